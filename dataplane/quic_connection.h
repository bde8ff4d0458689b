// A QUIC connection of the data plane, usable from any number of application threads. Its
// event loop runs on a thread of its own and is the only code that touches ngtcp2; the
// methods here hand work to it and wait for its answers, never doing network I/O, file I/O
// or crypto themselves (nor does the loop do file I/O or hashing).
//
// Streams are bidirectional only (ngtcp2 0.12.1 never closes unidirectional streams the peer
// opened). The intended use, per file: the sender opens a stream, writes header, content
// and trailer, finishes it, and reads the receiver's short status reply to its end; the
// receiver accepts the stream, reads it to its end, writes the status and finishes. One or
// two long-lived streams carry the file list and the requests.
//
// The sender's loop sends the oldest stream's bytes first. The receiver must keep reading
// the oldest accepted stream that has not ended (as many at once as it likes): unread bytes
// hold the connection's flow-control window, and a receiver that waits on a later stream
// while an earlier one sits unread can stall the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/quic_options.h"
#include "dataplane/quic_psk.h"
#include "dataplane/quic_stream_exchange.h"
#include "dataplane/socket_address.h"
#include "dataplane/udp_socket.h"

namespace arsync::dataplane {

class QuicSession;

class QuicConnection {
  // Only connect() and QuicListener make connections.
  struct ConstructionKey {
    explicit ConstructionKey() = default;
  };
  friend class QuicListener;

 public:
  // Connects to host:port and completes the handshake, authenticated by `key`. Throws
  // QuicHandshakeError when no connection comes about: nothing answered within
  // options.handshake_timeout, the port is closed (ICMP), or the peer refused the key. The
  // caller then falls back to the SSH channel.
  static std::unique_ptr<QuicConnection> connect(const std::string& host, uint16_t port,
                                                 const PskKey& key,
                                                 const QuicOptions& options = {});

  // Takes over an established session and the socket it talks through (QuicListener).
  QuicConnection(ConstructionKey, UdpSocket socket, std::unique_ptr<QuicSession> session);
  // Without close(), abandons the connection: the peer sees application error 1.
  ~QuicConnection();
  QuicConnection(const QuicConnection&) = delete;
  QuicConnection& operator=(const QuicConnection&) = delete;

  // Opens a bidirectional stream and returns its id. Blocks while options.max_streams of
  // ours are open (or the peer's limit is reached) until one closes. Throws QuicError once
  // the connection is over.
  int64_t open_stream();
  // The same without waiting: nullopt at the limit.
  std::optional<int64_t> try_open_stream();
  // The next stream the peer opened, in the order they arrived. Blocks until there is one;
  // nullopt once the peer closed the connection cleanly and every stream was handed out.
  // Throws QuicError if the connection failed.
  std::optional<int64_t> accept_stream();
  // Makes accept_stream() return nullopt once no stream is waiting, now and from now on:
  // for acceptors that know no more streams will come.
  void stop_accepting();

  // Queues bytes on a stream, with `fin` after them if set. The bytes are copied (the span
  // form) or taken over (the ByteBuffer form, no copy) and stay in memory until the peer
  // acknowledges them; a write blocks while more than options.send_buffer bytes of the connection,
  // or options.stream_send_buffer of this stream, are unacknowledged (backpressure). Throws
  // QuicStreamReset if the peer refused the stream, QuicError if the connection is over,
  // std::logic_error for a stream that is not open or already finished.
  void write(int64_t stream, std::span<const uint8_t> data, bool fin = false);
  void write(int64_t stream, fsio::ByteBuffer&& data, bool fin = false);
  // No more bytes on this stream (FIN).
  void finish(int64_t stream) { write(stream, fsio::ByteBuffer{}, true); }

  // Reads what arrived on a stream, in order: blocks until at least one byte is there and
  // returns up to out.size() bytes; returns 0 at the end of the stream (after which the
  // stream must not be read again). Reading is what gives the peer its flow-control credit
  // back. Throws QuicStreamReset if the peer abandoned the stream, QuicError if the
  // connection ended before the stream did.
  size_t read(int64_t stream, std::span<uint8_t> out);

  // Abandons a stream in both directions (RESET_STREAM and STOP_SENDING with `code`).
  void reset_stream(int64_t stream, uint64_t code);

  // Ends the connection cleanly: waits until every byte written has been acknowledged, then
  // sends CONNECTION_CLOSE. Returns at once if the peer has already closed cleanly. Throws
  // QuicError if the connection failed before everything was delivered.
  void close();
  // Ends the connection cleanly at once, without waiting for what is unacknowledged: for
  // when the peer has confirmed over another channel (SSH) that it has all it needs. Both
  // ends of a session close so, so neither waits on the other's CONNECTION_CLOSE, which
  // may be lost. Throws QuicError if the connection had failed.
  void close_now();
  // Ends the connection at once, with whatever is unsent or unacknowledged: the peer sees
  // application error 1, and every reader and writer here gets QuicError. For when the
  // other side is known to be gone (its SSH session ended). Any thread; close() or the
  // destructor still reap the loop thread.
  void abort();

  QuicStats stats() const;
  const SocketAddress& peer() const { return peer_; }

 private:
  void run();
  void run_loop();
  // Feeds waiting datagrams to the session; returns whether more may be waiting.
  bool receive_some(ReceiveBuffer& buffer);
  void wait_for_work(bool busy, bool blocked);

  UdpSocket socket_;
  std::unique_ptr<QuicSession> session_;
  StreamExchange& exchange_;
  SocketAddress peer_;
  std::thread loop_;
};

}  // namespace arsync::dataplane
