// Length-prefixed frames over a byte stream: the unit of everything arsync sends over SSH.
//
//   u32 length (big-endian, of what follows) | u8 type | payload (length - 1 bytes)
//
// The length is checked against kMaxFrame before anything is allocated.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <vector>

#include "control/byte_stream.h"

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
};

struct Frame {
  FrameType type = FrameType::control;
  std::vector<uint8_t> payload;
};

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

// Writers on several threads share one stream: each frame goes out whole.
class FrameWriter {
 public:
  explicit FrameWriter(ByteStream& stream) : stream_(stream) {}
  void write(FrameType type, std::span<const uint8_t> payload);
  void close();

 private:
  ByteStream& stream_;
  std::mutex mutex_;
};

bool is_known_frame_type(uint8_t type);

}  // namespace arsync::control
