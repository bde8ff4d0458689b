#include "fsio/apply_recipe.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>

namespace arsync::fsio {
namespace {

constexpr size_t kCopyBuffer = 256 << 10;
constexpr uint64_t kMaxOffset = static_cast<uint64_t>(std::numeric_limits<off_t>::max());

}  // namespace

RecipeWriter::RecipeWriter(int out_fd, std::vector<int> sources, Observer observer)
    : out_fd_(out_fd), sources_(std::move(sources)), observer_(std::move(observer)) {}

int RecipeWriter::write_out(std::span<const uint8_t> bytes, bool already_there) {
  if (bytes.size() > kMaxOffset - written_) return EFBIG;
  size_t done = already_there ? bytes.size() : 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(out_fd_, bytes.data() + done, bytes.size() - done,
                         static_cast<off_t>(written_ + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  if (observer_) observer_(bytes);
  written_ += bytes.size();
  return 0;
}

void RecipeWriter::set_source(uint32_t file, int fd) {
  if (file >= sources_.size()) sources_.resize(size_t{file} + 1, -1);
  sources_[file] = fd;
}

int RecipeWriter::copy(uint32_t file, uint64_t offset, uint64_t length) {
  if (file >= sources_.size() || sources_[file] < 0) return EBADF;
  if (offset > kMaxOffset || length > kMaxOffset - offset) return EFBIG;
  if (!buffer_) buffer_ = std::make_unique_for_overwrite<uint8_t[]>(kCopyBuffer);
  while (length > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(length, kCopyBuffer));
    ssize_t n = ::pread(sources_[file], buffer_.get(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENODATA;
    // In place, a copy to where it already is (offset == written_) writes nothing.
    const bool already_there = in_place_ && file == 0 && offset == written_;
    if (int err = write_out({buffer_.get(), static_cast<size_t>(n)}, already_there)) return err;
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return 0;
}

int RecipeWriter::literal(std::span<const uint8_t> bytes) {
  return write_out(bytes);
}

}  // namespace arsync::fsio
