#include "control/byte_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace arsync::control {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string(what) + ": " + std::strerror(errno));
}

bool is_socket(int fd) {
  struct stat st;
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// Waits until `fd` is ready for `events`, after a non-blocking fd said EAGAIN.
void wait_until_ready(int fd, short events) {
  pollfd p{fd, events, 0};
  while (::poll(&p, 1, -1) < 0) {
    if (errno != EINTR) fail("poll");
  }
}

}  // namespace

FdStream::FdStream(int read_fd, int write_fd, bool owns)
    : read_fd_(read_fd), write_fd_(write_fd), owns_(owns), write_is_socket_(is_socket(write_fd)) {}

FdStream::~FdStream() {
  if (!owns_) return;
  if (write_fd_ >= 0 && write_fd_ != read_fd_ && !write_closed_) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
}

size_t FdStream::read_some(void* buf, size_t n) {
  for (;;) {
    ssize_t got = ::read(read_fd_, buf, n);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_until_ready(read_fd_, POLLIN);
    } else if (errno != EINTR) {
      fail("read");
    }
  }
}

void FdStream::write_all(const void* buf, size_t n) {
  // After close_write the fd number may already belong to some other file.
  if (write_closed_) throw std::logic_error("FdStream::write_all after close_write");
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t put =
        write_is_socket_ ? ::send(write_fd_, p, n, MSG_NOSIGNAL) : ::write(write_fd_, p, n);
    if (put < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_until_ready(write_fd_, POLLOUT);
        continue;
      }
      fail("write");
    }
    p += put;
    n -= static_cast<size_t>(put);
  }
}

void FdStream::close_write() {
  if (write_closed_) return;
  write_closed_ = true;
  // A socket shared by both directions is half-closed; a pipe end is closed.
  if (write_fd_ == read_fd_ || is_socket(write_fd_)) {
    ::shutdown(write_fd_, SHUT_WR);
  } else {
    ::close(write_fd_);
  }
}

}  // namespace arsync::control
