#include "fsio/copy_data.h"

#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace arsync::fsio {
namespace {

using Method = CopyMethod;

int copy_by_read_write(int src_fd, int dst_fd, off_t offset, uint64_t length) {
  constexpr size_t kBuffer = 256 * 1024;
  auto buffer = std::make_unique<char[]>(kBuffer);
  while (length > 0) {
    size_t want = length < kBuffer ? static_cast<size_t>(length) : kBuffer;
    ssize_t got = ::pread(src_fd, buffer.get(), want, offset);
    if (got < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (got == 0) return ENODATA;
    for (ssize_t done = 0; done < got;) {
      ssize_t put =
          ::pwrite(dst_fd, buffer.get() + done, static_cast<size_t>(got - done), offset + done);
      if (put < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      done += put;
    }
    offset += got;
    length -= static_cast<uint64_t>(got);
  }
  return 0;
}

bool falls_back(int err) {
  return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == EBADF;
}

// Copies [offset, offset+length) at the same offset in both files.
int copy_range(int src_fd, int dst_fd, off_t offset, uint64_t length, Method& method,
               const std::atomic<bool>* cancel) {
  constexpr uint64_t kChunk = 64u << 20;  // bounds how long a cancel waits
  while (length > 0 && method != Method::read_write) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return ECANCELED;
    size_t chunk = static_cast<size_t>(length > kChunk ? kChunk : length);
    ssize_t n;
    if (method == Method::copy_file_range) {
      loff_t in = offset, out = offset;
      n = ::copy_file_range(src_fd, &in, dst_fd, &out, chunk, 0);
    } else {
      // sendfile writes at the destination's file position, which follows the copied data
      // except after a hole (a new file starts at 0).
      if (offset != 0 && ::lseek(dst_fd, offset, SEEK_SET) < 0) return errno;
      off_t in = offset;
      n = ::sendfile(dst_fd, src_fd, &in, chunk);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!falls_back(errno)) return errno;
      method = method == Method::copy_file_range ? Method::sendfile : Method::read_write;
      continue;
    }
    if (n == 0) return ENODATA;
    offset += n;
    length -= static_cast<uint64_t>(n);
  }
  return length > 0 ? copy_by_read_write(src_fd, dst_fd, offset, length) : 0;
}

}  // namespace

int copy_data(int src_fd, int dst_fd, uint64_t size, bool maybe_sparse,
              std::atomic<CopyMethod>* shared_method, const std::atomic<bool>* cancel) {
  Method method =
      shared_method ? shared_method->load(std::memory_order_relaxed) : Method::copy_file_range;
  off_t end = static_cast<off_t>(size);
  int err = 0;
  if (!maybe_sparse) {
    err = copy_range(src_fd, dst_fd, 0, size, method, cancel);
  } else {
    off_t pos = 0;
    while (pos < end) {
      off_t data = ::lseek(src_fd, pos, SEEK_DATA);
      if (data < 0) {
        if (errno != ENXIO)  // ENXIO: only a hole remains
          err = copy_range(src_fd, dst_fd, pos, static_cast<uint64_t>(end - pos), method, cancel);
        break;
      }
      if (data >= end) break;
      off_t hole = ::lseek(src_fd, data, SEEK_HOLE);
      if (hole < 0 || hole > end) hole = end;
      err = copy_range(src_fd, dst_fd, data, static_cast<uint64_t>(hole - data), method, cancel);
      if (err) break;
      pos = hole;
    }
    // Trailing holes (and so the length) come from the size, not from data.
    if (!err && ::ftruncate(dst_fd, end) != 0) err = errno;
  }
  if (shared_method) shared_method->store(method, std::memory_order_relaxed);
  return err;
}

}  // namespace arsync::fsio
