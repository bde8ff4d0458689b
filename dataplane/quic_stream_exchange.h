// Where the application's threads and a connection's event loop meet. The loop alone
// touches ngtcp2; application threads leave commands here (open a stream, queue bytes,
// return flow-control credit) and wake it through an eventfd, and the loop leaves here what
// arrived (stream data, new streams, acknowledgements that free send buffer) and wakes them
// through condition variables. One mutex guards it all; neither side holds it while doing
// I/O or crypto.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dataplane/quic_options.h"
#include "dataplane/wakeup_fd.h"
#include "fsio/byte_buffer.h"

namespace arsync::dataplane {

// Bytes received on one stream and not yet read, in order. Chunks grow from small (a status
// reply costs little) to 64 KiB (bulk data costs few allocations).
class ReceiveQueue {
 public:
  void append(std::span<const uint8_t> data);
  // Moves up to out.size() bytes into `out`; returns how many.
  size_t take(std::span<uint8_t> out);
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  void clear();

 private:
  std::deque<std::vector<uint8_t>> chunks_;
  size_t front_offset_ = 0;
  size_t size_ = 0;
};

// One thing the application asked of the loop, kept in the order asked: a stream is opened
// before it is written to, and its bytes go out in the order written.
struct StreamCommand {
  enum class Kind { open, write, reset };
  Kind kind = Kind::write;
  int64_t stream = -1;
  fsio::ByteBuffer data;  // write
  bool fin = false;       // write
  uint64_t code = 0;      // reset
};

struct LoopCommands {
  std::vector<StreamCommand> commands;
  // Bytes the application has read since the last take, to give back as flow-control credit.
  std::vector<std::pair<int64_t, uint64_t>> stream_credit;
  uint64_t connection_credit = 0;
  bool close = false;      // once everything written is delivered
  bool close_now = false;  // at once, delivered or not
  bool abort = false;      // now
};

// A snapshot of the connection, refreshed by the loop.
struct QuicStats {
  std::chrono::nanoseconds smoothed_rtt{0};
  std::chrono::nanoseconds min_rtt{0};
  uint64_t congestion_window = 0;
  uint64_t bytes_in_flight = 0;
  size_t max_udp_payload = 0;
  // System calls against datagrams: the batching GSO and GRO buy.
  uint64_t send_calls = 0;
  uint64_t datagrams_sent = 0;
  uint64_t receive_calls = 0;
  uint64_t datagrams_received = 0;
  bool gso = false;
  bool gro = false;
};

class StreamExchange {
 public:
  StreamExchange(const QuicOptions& options, bool is_server);
  StreamExchange(const StreamExchange&) = delete;
  StreamExchange& operator=(const StreamExchange&) = delete;

  // ---- application threads (see QuicConnection for the contract of each) ----
  int64_t open_stream();
  std::optional<int64_t> try_open_stream();
  std::optional<int64_t> accept_stream();
  void stop_accepting();
  void write(int64_t stream, fsio::ByteBuffer&& data, bool fin);
  size_t read(int64_t stream, std::span<uint8_t> out);
  void reset(int64_t stream, uint64_t code);
  // `now`: without waiting for what is written to be delivered.
  void request_close(bool now = false);
  void request_abort();
  // Returns once the handshake is confirmed; throws QuicHandshakeError if it failed.
  void wait_established();
  QuicStats stats() const;
  // The first failure ("" while none, or after a clean close).
  std::string error() const;

  // ---- the event loop ----
  int wakeup_fd() const { return wakeup_.fd(); }
  void drain_wakeups() { wakeup_.drain(); }
  LoopCommands take_commands();
  void on_established();
  // The peer now allows us `max_streams` bidirectional streams in all (cumulative).
  void on_local_stream_limit(uint64_t max_streams);
  void on_remote_stream_open(int64_t stream);
  // Readers of the stream are woken by the next wake_readers(), not here: a wake-up per
  // packet would cost more than the packet.
  void on_stream_data(int64_t stream, std::span<const uint8_t> data, bool fin);
  // Wakes the readers of every stream that received data since the last call.
  void wake_readers();
  // The peer abandoned its sending side (RESET_STREAM): readers see QuicStreamReset.
  void on_stream_reset(int64_t stream, uint64_t code);
  // Our sending side can no longer deliver (the peer sent STOP_SENDING, or the stream is
  // gone): writers see QuicStreamReset.
  void on_write_refused(int64_t stream, uint64_t code);
  // ngtcp2 forgot the stream: both directions are finished (or it was reset).
  void on_stream_closed(int64_t stream, bool local, std::optional<uint64_t> code);
  // Written bytes the loop no longer holds (acknowledged, or dropped with their stream).
  void release_sent(std::span<const std::pair<int64_t, size_t>> released);
  void publish_stats(const QuicStats& stats);
  // The connection is over, cleanly (`error` empty) or not: every waiting thread wakes, and
  // calls that need the connection throw QuicError from now on.
  void finish(const std::string& error);
  bool over() const;

 private:
  struct Stream {
    std::condition_variable readable;
    int readers_waiting = 0;
    bool wake_due = false;  // listed in streams_to_wake_
    ReceiveQueue received;
    // A waiting reader's own buffer, filled by the loop directly while `received` is empty:
    // bulk data is then copied once on its way from the packet to the reader, not twice.
    std::span<uint8_t> posted;
    size_t posted_filled = 0;
    bool fin_received = false;
    std::optional<uint64_t> reset_code;     // the peer reset its side
    std::optional<uint64_t> write_refused;  // the peer will not read ours
    bool read_done = false;                 // the application has seen the end
    bool fin_written = false;
    bool closed = false;  // ngtcp2 has closed it
    size_t unacked = 0;   // written by the application, still held by the loop
  };

  std::shared_ptr<Stream> find(int64_t stream) const;
  [[noreturn]] void throw_over() const;
  std::optional<int64_t> open_locked();
  void forget_if_done(int64_t stream, const Stream& state);
  // Bytes nobody will read still count against the connection's window: give them back.
  void discard_received(Stream& state);
  // Queues under the lock; returns whether the caller must wake the loop (after unlocking).
  bool queue(StreamCommand&& command);
  bool note_wake();

  const QuicOptions options_;
  const int64_t first_local_stream_;
  WakeupFd wakeup_;

  mutable std::mutex mutex_;
  std::condition_variable state_changed_;  // established, over
  std::condition_variable can_open_;
  std::condition_variable incoming_;
  std::condition_variable send_space_;
  bool established_ = false;
  bool over_ = false;
  bool accept_stopped_ = false;
  std::string error_;
  bool wake_pending_ = false;

  uint64_t local_opened_ = 0;   // streams this side opened, in all
  uint64_t local_allowed_ = 0;  // the peer's cumulative limit
  uint64_t local_open_ = 0;     // opened and not yet closed
  std::unordered_map<int64_t, std::shared_ptr<Stream>> streams_;
  std::deque<int64_t> accept_queue_;
  std::vector<std::shared_ptr<Stream>> streams_to_wake_;
  size_t unacked_ = 0;

  std::vector<StreamCommand> commands_;
  std::unordered_map<int64_t, uint64_t> stream_credit_;
  uint64_t connection_credit_ = 0;
  bool close_requested_ = false;
  bool close_now_requested_ = false;
  bool abort_requested_ = false;
  QuicStats stats_;
};

}  // namespace arsync::dataplane
