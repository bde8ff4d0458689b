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
    case FrameType::delta_request:
    case FrameType::delta_answer:
    case FrameType::delta_probe:
    case FrameType::delta_recipe:
    case FrameType::content_digest:
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
  frame.payload = fsio::ByteBuffer(length - 1);
  if (length > 1 && !read_exact(frame.payload.data(), frame.payload.size())) {
    throw FrameError("stream ended in the middle of a frame");
  }
  return frame;
}

namespace {

// Frames smaller than this are copied into one write with their neighbours.
constexpr size_t kPackBelow = 64 * 1024;
// One packed write carries at most this much.
constexpr size_t kPackSize = 256 * 1024;
// Producers wait while this much is queued.
constexpr size_t kMaxQueuedBytes = 8u << 20;

}  // namespace

void write_frame_header(FrameType type, size_t payload_size, uint8_t* header) {
  if (payload_size + 1 > kMaxFrame) {
    throw FrameError("frame of " + std::to_string(payload_size) + " bytes is too large");
  }
  const auto length = static_cast<uint32_t>(payload_size + 1);
  header[0] = static_cast<uint8_t>(length >> 24);
  header[1] = static_cast<uint8_t>(length >> 16);
  header[2] = static_cast<uint8_t>(length >> 8);
  header[3] = static_cast<uint8_t>(length);
  header[4] = static_cast<uint8_t>(type);
}

FrameWriter::FrameWriter(ByteStream& stream) : stream_(stream) {
  pack_.reserve(kPackSize);
  thread_ = std::thread([this] { run(); });
}

FrameWriter::~FrameWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();
}

void FrameWriter::write(FrameType type, std::span<const uint8_t> payload) {
  enqueue(type, fsio::ByteBuffer::copy_of(payload));
}

void FrameWriter::write(FrameType type, fsio::ByteBuffer&& payload) {
  enqueue(type, std::move(payload));
}

void FrameWriter::check_failed() const {
  if (!error_.empty()) throw FrameError(error_);
}

void FrameWriter::enqueue(FrameType type, fsio::ByteBuffer&& payload) {
  Pending frame;
  write_frame_header(type, payload.size(), frame.header);
  frame.payload = std::move(payload);
  const size_t size = frame.payload.size();
  std::unique_lock lock(mutex_);
  progress_.wait(lock, [&] {
    return !error_.empty() || queued_bytes_ == 0 || queued_bytes_ + size <= kMaxQueuedBytes;
  });
  check_failed();
  const bool was_empty = queue_.empty();
  queue_.push_back(std::move(frame));
  queued_bytes_ += size;
  ++queued_count_;
  lock.unlock();
  if (was_empty) work_.notify_one();
}

void FrameWriter::flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = queued_count_;
  progress_.wait(lock, [&] { return !error_.empty() || written_count_ >= target; });
  check_failed();
}

void FrameWriter::close() {
  flush();
  std::lock_guard lock(mutex_);
  stream_.close_write();
}

void FrameWriter::run() {
  std::vector<Pending> frames;
  std::unique_lock lock(mutex_);
  for (;;) {
    work_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to write
    frames.swap(queue_);
    const bool failed = !error_.empty();
    lock.unlock();
    size_t bytes = 0;
    for (const auto& f : frames) bytes += f.payload.size();
    const size_t count = frames.size();
    std::string failure;
    try {
      if (!failed) send(frames);  // after a failure, frames are dropped
    } catch (const std::exception& e) {
      failure = e.what();
    }
    frames.clear();
    lock.lock();
    if (!failure.empty() && error_.empty()) error_ = failure;
    queued_bytes_ -= bytes;
    written_count_ += count;
    progress_.notify_all();
  }
}

void FrameWriter::send(std::vector<Pending>& frames) {
  auto flush_pack = [this] {
    if (pack_.empty()) return;
    stream_.write_all(pack_.data(), pack_.size());
    pack_.clear();
  };
  for (Pending& f : frames) {
    const size_t size = sizeof f.header + f.payload.size();
    if (f.payload.size() < kPackBelow) {
      if (pack_.size() + size > kPackSize) flush_pack();
      pack_.insert(pack_.end(), f.header, f.header + sizeof f.header);
      pack_.insert(pack_.end(), f.payload.begin(), f.payload.end());
      continue;
    }
    flush_pack();
    if (f.payload.front_room() >= sizeof f.header) {
      f.payload.grow_front(sizeof f.header);
      std::memcpy(f.payload.data(), f.header, sizeof f.header);
      stream_.write_all(f.payload.data(), f.payload.size());
    } else {
      stream_.write_all(f.header, sizeof f.header);
      stream_.write_all(f.payload.data(), f.payload.size());
    }
  }
  flush_pack();
}

}  // namespace arsync::control
