// One QUIC connection's protocol state: the ngtcp2 connection, its TLS session, and the
// bytes each stream still holds for sending. One thread at a time drives it (the server's
// accept loop during the handshake, then the connection's event loop); application threads
// reach it only through its StreamExchange. Driving it is: apply_commands(), receive() each
// datagram (then exchange().wake_readers()), on_timer() at deadline(), send(), publish(),
// until finished().
#pragma once

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/quic_clock.h"
#include "dataplane/quic_options.h"
#include "dataplane/quic_psk.h"
#include "dataplane/quic_stream_exchange.h"
#include "dataplane/quic_tls.h"
#include "dataplane/rate_limit.h"
#include "dataplane/socket_address.h"
#include "dataplane/udp_socket.h"

namespace arsync::dataplane {

struct NgtcpConnDeleter {
  void operator()(ngtcp2_conn* conn) const noexcept { ngtcp2_conn_del(conn); }
};
using NgtcpConn = std::unique_ptr<ngtcp2_conn, NgtcpConnDeleter>;

class QuicSession {
 public:
  // The application error code of a connection closed by its owner before the end.
  static constexpr uint64_t kAbortedByApplication = 1;

  // Starts a handshake towards `remote` from the socket bound at `local`.
  static std::unique_ptr<QuicSession> client(const SocketAddress& local,
                                             const SocketAddress& remote, const PskKey& key,
                                             const QuicOptions& options);
  // Answers a client whose first Initial packet ngtcp2_accept() decoded into `initial`.
  static std::unique_ptr<QuicSession> server(const SocketAddress& local,
                                             const SocketAddress& remote,
                                             const ngtcp2_pkt_hd& initial, const PskKey& key,
                                             const QuicOptions& options);
  ~QuicSession();
  QuicSession(const QuicSession&) = delete;
  QuicSession& operator=(const QuicSession&) = delete;

  StreamExchange& exchange() { return exchange_; }
  const SocketAddress& remote() const { return remote_; }
  // The handshake is confirmed: streams may flow.
  bool established() const { return state_ == State::established; }
  // Nothing is left to do; the driver may stop and destroy the session.
  bool finished(QuicTimestamp now) const;
  // When on_timer() wants to run next (ngtcp2's timers, pacing, the end of closing).
  QuicTimestamp deadline() const;

  // Takes what application threads asked for since the last call.
  void apply_commands();
  // One UDP payload from the peer.
  void receive(std::span<const uint8_t> datagram, QuicTimestamp now);
  void on_timer(QuicTimestamp now);
  enum class SendResult {
    idle,     // sent all it could: congestion, pacing or nothing to send
    more,     // stopped to let incoming packets in: call again soon
    blocked,  // the socket buffer is full: wait for POLLOUT
  };
  SendResult send(UdpSocket& socket);
  // Hands acknowledged send buffers and statistics to the application side.
  void publish(const UdpSocket& socket);
  // For the statistics: one receive call brought this many datagrams.
  void count_received(size_t datagrams);
  // Gives up without a word to the peer (ICMP says nobody listens, say).
  void give_up(const std::string& why);
  // Ends the connection now, telling the peer: CONNECTION_CLOSE with an application error.
  void abort(uint64_t app_error_code, const std::string& why);

 private:
  enum class State { handshake, established, closing, draining, dead };

  // Bytes written on one stream that ngtcp2 may still need: it does not copy stream data,
  // it keeps pointers until the peer acknowledges.
  struct SendStream {
    std::deque<fsio::ByteBuffer> chunks;
    uint64_t chunks_offset = 0;  // stream offset of chunks.front()
    size_t cursor = 0;           // the chunk holding offset `sent`
    uint64_t cursor_offset = 0;  // its stream offset
    uint64_t sent = 0;           // handed to ngtcp2
    uint64_t acked = 0;          // acknowledged without gaps
    uint64_t end = 0;            // written by the application
    bool fin_queued = false;
    bool fin_sent = false;
    bool fin_alone = false;  // the FIN went in a frame of its own, after the data
    bool fin_frame_acked = false;
    bool blocked = false;  // waiting for the peer's MAX_STREAM_DATA
    bool ready = false;    // in ready_
    bool has_unsent() const { return sent < end || (fin_queued && !fin_sent); }
    bool delivered() const { return acked == end && fin_sent && (fin_frame_acked || !fin_alone); }
  };

  // The stream data offered to one ngtcp2_conn_writev_stream call.
  struct StreamSlice {
    int64_t stream = -1;
    std::array<ngtcp2_vec, 16> data{};
    size_t count = 0;
    bool fin = false;
  };

  struct Callbacks;
  // Lets the factories use std::make_unique while the constructor stays theirs alone.
  struct ConstructionKey {
    explicit ConstructionKey() = default;
  };

 public:
  QuicSession(ConstructionKey, const SocketAddress& local, const SocketAddress& remote,
              const PskKey& key, const QuicOptions& options, bool is_server);

 private:
  void start_tls();
  ngtcp2_path path();
  void handle_error(int rv, QuicTimestamp now);
  // Sends CONNECTION_CLOSE (last_error_) once and tells the application `why`.
  void enter_closing(QuicTimestamp now, const std::string& why);
  void close_cleanly(QuicTimestamp now);
  bool all_delivered() const;
  std::string describe_peer_close() const;

  // Sending.
  StreamSlice next_slice(QuicTimestamp now);
  void on_accepted(const StreamSlice& slice, ngtcp2_ssize accepted);
  void make_ready(int64_t stream, SendStream& state);
  void drop_send_stream(int64_t stream);
  bool flush_pending(UdpSocket& socket);
  // Sends buffer_[begin, end) as datagrams of `segment` bytes; false when the socket blocks
  // (the unsent rest is kept for flush_pending).
  bool send_batch(UdpSocket& socket, size_t begin, size_t end, size_t segment);

  // ngtcp2 callbacks (see Callbacks in the .cpp).
  int on_handshake_completed();
  void on_ack(int64_t stream, uint64_t offset, uint64_t length);
  void on_stream_close(int64_t stream, uint32_t flags, uint64_t app_error_code);
  void on_max_stream_data(int64_t stream);

  const QuicOptions options_;
  const bool is_server_;
  SocketAddress local_;
  SocketAddress remote_;
  StreamExchange exchange_;

  // Declaration order is destruction order reversed: the connection goes first, then the
  // TLS session it points into, then the credentials and link the session points into.
  TlsSessionLink link_;
  PskCredentials credentials_;
  TlsSession tls_;
  NgtcpConn conn_;

  State state_ = State::handshake;
  ngtcp2_connection_close_error last_error_{};
  std::vector<uint8_t> close_packet_;
  bool close_packet_due_ = false;
  QuicTimestamp closing_deadline_ = 0;
  bool close_requested_ = false;
  bool close_now_ = false;

  std::unordered_map<int64_t, SendStream> send_streams_;
  // Streams with something to send, served oldest first (lowest id): the receiver accepts
  // streams in the order their first bytes arrive and may read only a few at a time, and
  // data spread thinly over many streams would fill the connection's flow-control window
  // with bytes nobody reads yet (a deadlock). Oldest first finishes streams in the order the
  // receiver takes them up; a stream waiting for the peer's credit or for more application
  // bytes lets the next one go.
  std::set<int64_t> ready_;
  std::vector<std::pair<int64_t, size_t>> released_;
  // --bwlimit (options_.max_send_rate): new stream bytes wait while it is overdrawn.
  std::optional<TokenBucket> rate_limit_;
  // ARSYNC_QUIC_TRACE (measurements only): the congestion state on stderr every so often.
  QuicTimestamp trace_every_ = 0;
  QuicTimestamp trace_start_ = 0;
  QuicTimestamp next_trace_ = 0;

  std::vector<uint8_t> buffer_;  // one GSO batch of packets
  size_t pending_begin_ = 0;     // a batch the socket did not take yet
  size_t pending_end_ = 0;
  size_t pending_segment_ = 0;
  QuicStats stats_;
};

}  // namespace arsync::dataplane
