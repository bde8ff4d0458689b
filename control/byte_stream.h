// A bidirectional byte stream: an SSH exec channel, or a pair of file descriptors.
#pragma once

#include <cstddef>

namespace arsync::control {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Reads up to n bytes; returns 0 at end of stream; throws std::runtime_error on failure.
  virtual size_t read_some(void* buf, size_t n) = 0;
  // Writes all n bytes or throws.
  virtual void write_all(const void* buf, size_t n) = 0;
  // No more writes (sends EOF to the peer).
  virtual void close_write() = 0;
};

// Over a read fd and a write fd (which may be the same socket). EINTR is retried, and on a
// non-blocking fd EAGAIN waits in poll(). Writes to a socket never raise SIGPIPE (a vanished
// peer is an exception instead); writes to a pipe do unless the program ignores SIGPIPE.
class FdStream final : public ByteStream {
 public:
  FdStream(int read_fd, int write_fd, bool owns);
  ~FdStream() override;
  FdStream(const FdStream&) = delete;
  FdStream& operator=(const FdStream&) = delete;

  size_t read_some(void* buf, size_t n) override;
  void write_all(const void* buf, size_t n) override;
  void close_write() override;

 private:
  int read_fd_;
  int write_fd_;
  bool owns_;
  bool write_is_socket_;
  bool write_closed_ = false;
};

}  // namespace arsync::control
