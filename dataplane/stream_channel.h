// The engine's channel carried as frames over one byte stream (an SSH exec channel, or a
// helper's stdin/stdout). One side runs the sender, the other the receiver; a reader thread
// turns incoming frames back into the engine's messages. The data phase ends with end
// frames, not by closing the stream: the session's closing control messages follow on the
// same stream.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>

#include "arsync/engine/blocking_queue.h"
#include "arsync/engine/channel.h"
#include "control/frame.h"
#include "control/session_messages.h"
#include "dataplane/file_streams.h"

namespace arsync::dataplane {

// Content is sent in pieces of this size.
inline constexpr size_t kStreamChunk = 256 * 1024;
// A directory's batch is cut into parts of at most this many entries per frame.
inline constexpr size_t kEntriesPerFrame = 16384;
// Content messages from file streams that may wait for the receiver: 64 MiB of chunks.
inline constexpr size_t kContentDepth = 256;
// A directory with more entries than this is refused (bounds the receiver's memory).
inline constexpr size_t kMaxDirEntries = 16u << 20;

using control::PeerMessages;

// Sends one of this side's report lines to the peer as a log frame.
void send_log(control::FrameWriter& writer, bool is_error, std::string_view line);

class StreamChannelBase {
 public:
  // The first protocol failure seen (malformed frame, stream cut), or "".
  std::string error() const;

 protected:
  // `out` is shared with whoever else writes frames on the stream (log lines, the session).
  StreamChannelBase(control::ByteStream& in, control::FrameWriter& out, PeerMessages peer);
  ~StreamChannelBase();
  void start_reader();
  void stop_reader();
  void fail(const std::string& message);
  // Writes one frame. A stream that can no longer be written (the peer is gone) is recorded
  // as the channel's error and later writes are dropped: the engine then winds down through
  // its normal end-of-stream paths instead of meeting exceptions on its worker threads.
  void send_frame(control::FrameType type, std::span<const uint8_t> payload = {});
  void send_frame(control::FrameType type, fsio::ByteBuffer&& payload);
  // Returns false after the last frame this side expects in the data phase.
  virtual bool on_frame(control::Frame& frame) = 0;
  virtual void on_end() = 0;  // the stream ended or failed: release every waiting reader

  control::FrameWriter& writer_;

 private:
  void read_loop();
  template <typename Payload>
  void send_frame_impl(control::FrameType type, Payload&& payload);

  control::FrameReader reader_;
  PeerMessages peer_;
  std::atomic<bool> broken_{false};
  std::thread thread_;
  mutable std::mutex error_mutex_;
  std::string error_;
};

// Where file content goes: with a QUIC connection, on file streams of its own (see
// dataplane/file_streams.h); without, on the channel's stream with everything else.
struct ContentStreams {
  QuicConnection* connection = nullptr;
  FileStreamOptions options;
};

// The sending side's end: file list and content out, requests in.
class StreamSenderChannel final : public engine::SenderChannel, public StreamChannelBase {
 public:
  StreamSenderChannel(control::ByteStream& in, control::FrameWriter& out, PeerMessages peer = {},
                      ContentStreams content = {});
  ~StreamSenderChannel() override;

  bool can_pass_fds() const override { return false; }
  void send_batch(fsio::DirBatch&& batch) override;
  void end_list() override;
  std::optional<engine::RequestMessage> next_request() override;
  void send_content(engine::ContentMessage&& message) override;
  void end_content() override;
  // File streams this side opened (0 without ContentStreams).
  uint64_t file_streams() const { return files_ ? files_->streams_opened() : 0; }

 private:
  bool on_frame(control::Frame& frame) override;
  void on_end() override;

  engine::BlockingQueue<engine::RequestMessage> requests_;
  std::unique_ptr<FileStreamSender> files_;
};

// The receiving side's end: file list and content in, requests out.
class StreamReceiverChannel final : public engine::ReceiverChannel, public StreamChannelBase {
 public:
  StreamReceiverChannel(control::ByteStream& in, control::FrameWriter& out, PeerMessages peer = {},
                        ContentStreams content = {});
  ~StreamReceiverChannel() override;

  std::optional<fsio::DirBatch> next_batch() override;
  bool carries_delta() const override { return true; }
  void request(engine::RequestMessage request) override;
  void end_requests() override;
  std::optional<engine::ContentMessage> next_content() override;
  // File streams read to their end (0 without ContentStreams).
  uint64_t file_streams() const { return files_ ? files_->streams_read() : 0; }

 private:
  bool on_frame(control::Frame& frame) override;
  void on_end() override;
  bool join_part(fsio::DirBatch& batch, bool more, std::string& error);

  // Parts of one directory's batch that did not fit in a frame, joined before delivery.
  std::optional<fsio::DirBatch> partial_;
  bool list_ended_ = false;
  bool content_ended_ = false;
  bool content_in_streams_ = false;  // content_end came, with file streams still to read
  // The stream's reader thread never waits here (content frames queued behind a batch
  // could otherwise never reach the receiver that is waiting for them): it pushes past the
  // bound. The readers of file streams wait for room, and QUIC's flow control then holds
  // the sender.
  engine::BlockingQueue<fsio::DirBatch> batches_;
  engine::BlockingQueue<engine::ContentMessage> content_{kContentDepth};
  std::unique_ptr<FileStreamReceiver> files_;
};

}  // namespace arsync::dataplane
