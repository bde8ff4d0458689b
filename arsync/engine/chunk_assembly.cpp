#include "arsync/engine/chunk_assembly.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace arsync::engine {

bool ChunkAssembly::overlaps(uint64_t begin, uint64_t end) const {
  if (begin < contiguous_) return true;
  auto next = ahead_.lower_bound(begin);
  if (next != ahead_.end() && next->first < end) return true;
  if (next != ahead_.begin() && std::prev(next)->second > begin) return true;
  return false;
}

int ChunkAssembly::land(const ContentChunk& chunk) {
  const uint64_t size = chunk.data.size();
  const uint64_t begin = chunk.offset;
  if (begin > UINT64_MAX - size) return EBADMSG;
  const uint64_t end = begin + size;
  if (chunk.last && end_) return EBADMSG;
  if (end_ && end > *end_) return EBADMSG;
  if (chunk.last && (end < contiguous_ || (!ahead_.empty() && ahead_.rbegin()->second > end))) {
    return EBADMSG;
  }
  if (size != 0 && overlaps(begin, end)) return EBADMSG;
  if (begin != contiguous_ && size != 0 && ahead_.size() >= kMaxStretchesAhead) return EBADMSG;

  if (size != 0) {
    ssize_t n = ::pwrite(fd_, chunk.data.data(), size, static_cast<off_t>(begin));
    if (n != static_cast<ssize_t>(size)) return n < 0 ? errno : ENOSPC;
  }
  if (chunk.last) {
    end_ = end;
    expected_ = chunk.digest;
  }
  if (size == 0) return 0;
  if (begin != contiguous_) {
    ahead_.emplace(begin, end);
    return 0;
  }
  digest_.update(chunk.data.data(), size);
  contiguous_ = end;
  return catch_up();
}

int ChunkAssembly::catch_up() {
  constexpr size_t kPiece = 256 * 1024;
  std::unique_ptr<uint8_t[]> buffer;
  while (!ahead_.empty() && ahead_.begin()->first == contiguous_) {
    const uint64_t end = ahead_.begin()->second;
    ahead_.erase(ahead_.begin());
    if (!buffer) buffer = std::make_unique_for_overwrite<uint8_t[]>(kPiece);
    while (contiguous_ < end) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(kPiece, end - contiguous_));
      ssize_t n = ::pread(fd_, buffer.get(), want, static_cast<off_t>(contiguous_));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return n < 0 ? errno : EIO;
      digest_.update(buffer.get(), static_cast<size_t>(n));
      contiguous_ += static_cast<uint64_t>(n);
    }
  }
  return 0;
}

}  // namespace arsync::engine
