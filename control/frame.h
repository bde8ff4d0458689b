// Length-prefixed frames over a byte stream: the unit of everything arsync sends over SSH.
//
//   u32 length (big-endian, of what follows) | u8 type | payload (length - 1 bytes)
//
// The length is checked against kMaxFrame before anything is allocated.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "control/byte_stream.h"
#include "fsio/byte_buffer.h"

namespace arsync::control {

inline constexpr uint32_t kMaxFrame = 8u << 20;

enum class FrameType : uint8_t {
  control = 0x01,     // a JSON control message
  log = 0x02,         // u8 stream (0 output, 1 errors) + one line for the user
  list_batch = 0x10,  // data plane: one encoded DirBatch
  list_end = 0x11,
  request = 0x12,  // data plane: one encoded ContentRequest
  requests_end = 0x13,
  content_chunk = 0x14,  // data plane: one encoded ContentChunk
  content_failed = 0x15,
  content_end = 0x16,
  list_batch_part = 0x17,  // data plane: part of a directory too large for one frame
  // Data plane, the delta exchange (docs/DELTA.md): one encoded DeltaMessage each.
  delta_request = 0x18,   // receiver -> sender: a file's basis signature
  delta_answer = 0x19,    // receiver -> sender: the answer to a probe
  delta_probe = 0x1a,     // sender -> receiver: keys of subtrees to look for
  delta_recipe = 0x1b,    // sender -> receiver: a part of the recipe
  content_digest = 0x1c,  // sender -> receiver: one encoded ContentDigest (-c)
};

struct Frame {
  FrameType type = FrameType::control;
  fsio::ByteBuffer payload;
};

// u32 length (type byte + payload), u8 type.
inline constexpr size_t kFrameHeaderSize = 5;

// Writes the u32 length and the type of a frame with `payload_size` bytes of payload into
// `header` (kFrameHeaderSize bytes); throws FrameError past kMaxFrame.
void write_frame_header(FrameType type, size_t payload_size, uint8_t* header);

// The peer broke the framing: an impossible length, an unknown type, a stream cut short.
class FrameError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class FrameReader {
 public:
  explicit FrameReader(ByteStream& stream) : stream_(stream) {}
  // nullopt at a clean end of stream (between frames); throws FrameError otherwise.
  std::optional<Frame> next();

 private:
  // False at end of stream before the first byte; throws if it ends part-way.
  bool read_exact(uint8_t* out, size_t n);

  ByteStream& stream_;
};

// Frames from several threads share one stream. They are queued and a thread of the writer's
// own sends them in order, packing the small frames that piled up during the previous write
// into one write: over SSH each write becomes at least one packet, and a packet per 10 KiB
// file doubled the CPU time of the server's sshd. Large payloads with room in front go out
// without a copy. When the stream fails, the error is kept and thrown by later calls.
class FrameWriter {
 public:
  explicit FrameWriter(ByteStream& stream);
  // Writes what is still queued (unless the stream has failed), then stops the thread.
  ~FrameWriter();
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  // Queue a frame; blocks while too much is queued.
  void write(FrameType type, std::span<const uint8_t> payload);
  void write(FrameType type, fsio::ByteBuffer&& payload);
  // Returns once everything queued before it is written.
  void flush();
  // flush(), then the end of the stream for the peer.
  void close();

 private:
  struct Pending {
    uint8_t header[kFrameHeaderSize];
    fsio::ByteBuffer payload;
  };
  void enqueue(FrameType type, fsio::ByteBuffer&& payload);
  void run();
  void send(std::vector<Pending>& frames);
  void check_failed() const;  // with mutex_ held

  ByteStream& stream_;
  std::mutex mutex_;
  std::condition_variable work_;      // frames queued, or stopping
  std::condition_variable progress_;  // frames written, or failed
  std::vector<Pending> queue_;
  size_t queued_bytes_ = 0;
  uint64_t queued_count_ = 0;
  uint64_t written_count_ = 0;
  bool stopping_ = false;
  std::string error_;  // the stream's failure, once it has failed
  std::vector<uint8_t> pack_;
  std::thread thread_;
};

bool is_known_frame_type(uint8_t type);

}  // namespace arsync::control
