#include "control/frame.h"

#include <cstring>
#include <string>

namespace arsync::control {

bool is_known_frame_type(uint8_t type) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::control:
    case FrameType::log:
    case FrameType::list_batch:
    case FrameType::list_end:
    case FrameType::request:
    case FrameType::requests_end:
    case FrameType::content_chunk:
    case FrameType::content_failed:
    case FrameType::content_end:
    case FrameType::list_batch_part:
      return true;
  }
  return false;
}

bool FrameReader::read_exact(uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    size_t got = stream_.read_some(out + done, n - done);
    if (got == 0) {
      if (done == 0) return false;
      throw FrameError("stream ended in the middle of a frame");
    }
    done += got;
  }
  return true;
}

std::optional<Frame> FrameReader::next() {
  uint8_t header[5];
  if (!read_exact(header, 4)) return std::nullopt;
  uint32_t length = (uint32_t{header[0]} << 24) | (uint32_t{header[1]} << 16) |
                    (uint32_t{header[2]} << 8) | uint32_t{header[3]};
  if (length == 0 || length > kMaxFrame) {
    throw FrameError("frame length " + std::to_string(length) + " outside 1.." +
                     std::to_string(kMaxFrame));
  }
  if (!read_exact(header + 4, 1)) throw FrameError("stream ended in the middle of a frame");
  if (!is_known_frame_type(header[4])) {
    throw FrameError("unknown frame type " + std::to_string(header[4]));
  }
  Frame frame;
  frame.type = static_cast<FrameType>(header[4]);
  frame.payload.resize(length - 1);
  if (length > 1 && !read_exact(frame.payload.data(), frame.payload.size())) {
    throw FrameError("stream ended in the middle of a frame");
  }
  return frame;
}

void FrameWriter::write(FrameType type, std::span<const uint8_t> payload) {
  if (payload.size() + 1 > kMaxFrame) {
    throw FrameError("frame of " + std::to_string(payload.size()) + " bytes is too large");
  }
  uint32_t length = static_cast<uint32_t>(payload.size() + 1);
  uint8_t header[5] = {static_cast<uint8_t>(length >> 24), static_cast<uint8_t>(length >> 16),
                       static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length),
                       static_cast<uint8_t>(type)};
  // Small frames go out in one write: over SSH each write is a packet of its own.
  constexpr size_t kCoalesceBelow = 64 * 1024;
  std::lock_guard lock(mutex_);
  if (payload.size() < kCoalesceBelow) {
    uint8_t buffer[sizeof header + kCoalesceBelow];
    std::memcpy(buffer, header, sizeof header);
    if (!payload.empty()) std::memcpy(buffer + sizeof header, payload.data(), payload.size());
    stream_.write_all(buffer, sizeof header + payload.size());
    return;
  }
  stream_.write_all(header, sizeof header);
  stream_.write_all(payload.data(), payload.size());
}

void FrameWriter::close() {
  std::lock_guard lock(mutex_);
  stream_.close_write();
}

}  // namespace arsync::control
