// Over QUIC, each file's content travels on a bidirectional stream of its own, and a large
// file on several: its ranges, one stream each. The receiver reads every stream to its end,
// hands the content to the engine (which lands it with positional writes) and acknowledges
// on the same stream with one byte and FIN; that acknowledgement frees the sender's slot.
// A lost packet then stalls one file, not every file behind it, and many small files are in
// flight at once without waiting for each other. The file list, requests and the delta
// exchange stay on the control stream (docs/PROTOCOL.md, "QUIC streams").
//
//   stream: "ARSF" | content_chunk frame ... | [content_failed frame] | FIN
//   reply:  0x00 | FIN
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "arsync/engine/channel.h"
#include "dataplane/quic_connection.h"

namespace arsync::dataplane {

inline constexpr char kFileStreamPreamble[] = "ARSF";

struct FileStreamOptions {
  // File streams in flight at once (--streams): opened and not yet acknowledged. A stream
  // holds its slot for at least a round trip (until its acknowledgement), so this bounds
  // small files to max_streams per RTT: 1000 keeps 10,000 files/s going at 100 ms. Memory
  // is bounded by the send buffer and flow control, not by this.
  uint32_t max_streams = 1000;
  // A file's bytes per stream: a larger file is cut into ranges, each on a stream of its own.
  uint64_t range_size = 16u << 20;
};

// Sending side. Any thread may send; the chunks of one file come from one thread, in order.
class FileStreamSender {
 public:
  FileStreamSender(QuicConnection& connection, FileStreamOptions options);
  // Call finish() first for a clean end; otherwise the connection must be over (aborted),
  // so that the thread reading the acknowledgements can end.
  ~FileStreamSender();
  FileStreamSender(const FileStreamSender&) = delete;
  FileStreamSender& operator=(const FileStreamSender&) = delete;

  // Throws QuicError (or another exception) once the connection failed.
  void send(engine::ContentChunk&& chunk);
  // A file whose stream is open ends on that stream with its failure (true); otherwise the
  // caller sends the failure on the control stream (false).
  bool send_failure(const engine::ContentFailed& failed);
  // Ends the stream of any file whose content stopped short (the receiver reports it as not
  // received) and returns how many file streams were opened in all: what the receiver must
  // read before the content is complete. No send() after it.
  uint64_t end();
  // Returns once every stream was acknowledged; throws the first failure.
  void wait_acknowledged();
  // File streams opened so far.
  uint64_t streams_opened() const;

 private:
  struct OpenFile {
    int64_t stream = -1;
    uint64_t range_start = 0;
  };
  int64_t open_file_stream();
  // `first`: the stream's first frame, which the preamble goes before.
  void write_frame(int64_t stream, bool first, uint8_t type, fsio::ByteBuffer&& payload, bool fin);
  void finished(uint64_t id, int64_t stream);
  void read_acknowledgements();
  void fail(const std::string& message);

  QuicConnection& connection_;
  const FileStreamOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unordered_map<uint64_t, OpenFile> open_;  // by file id
  std::deque<int64_t> finished_;                 // FIN written, acknowledgement awaited
  uint32_t in_flight_ = 0;
  uint64_t opened_ = 0;
  bool stopping_ = false;
  std::string error_;
  std::thread acknowledgements_;
};

// Receiving side: threads that accept the peer's file streams and read them.
class FileStreamReceiver {
 public:
  // Gets each content message; may block (that holds the stream, and QUIC flow control
  // holds the sender).
  using Deliver = std::function<void(engine::ContentMessage&&)>;

  FileStreamReceiver(QuicConnection& connection, Deliver deliver, size_t readers = 4);
  // stop(), then joins the readers.
  ~FileStreamReceiver();
  FileStreamReceiver(const FileStreamReceiver&) = delete;
  FileStreamReceiver& operator=(const FileStreamReceiver&) = delete;

  // The sender opened `total` file streams in all: `over` runs once, when every one of them
  // was read (at once if they were) or when reading failed; the readers then end. More
  // streams than that are a protocol error.
  void expect(uint64_t total, std::function<void()> over);
  // No more file streams will come: readers end once idle.
  void stop();
  // The first malformed stream or connection failure, or "".
  std::string error() const;
  // File streams read to their end and acknowledged.
  uint64_t streams_read() const;

 private:
  void read_streams();
  void read_one(int64_t stream);
  void fail(const std::string& message);
  // Runs the `over` callback if it is due (all read, or failed) and has not run yet.
  void end_if_over();

  QuicConnection& connection_;
  Deliver deliver_;
  mutable std::mutex mutex_;
  std::string error_;
  int busy_ = 0;  // readers inside a stream
  uint64_t streams_read_ = 0;
  std::optional<uint64_t> expected_;
  std::function<void()> over_;
  std::vector<std::thread> readers_;
};

}  // namespace arsync::dataplane
