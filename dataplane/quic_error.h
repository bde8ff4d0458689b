// Failures of the QUIC data plane, as exceptions the caller can tell apart.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace arsync::dataplane {

// The connection failed or is gone; the message says why.
class QuicError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// No connection came about: nothing answered in time, the port was closed, or the peer did
// not hold the session key. The caller falls back to the SSH channel.
class QuicHandshakeError : public QuicError {
 public:
  using QuicError::QuicError;
};

// The peer abandoned one stream (RESET_STREAM or STOP_SENDING); the connection lives on.
class QuicStreamReset : public QuicError {
 public:
  QuicStreamReset(int64_t stream, uint64_t code)
      : QuicError("the peer reset QUIC stream " + std::to_string(stream) + " (code " +
                  std::to_string(code) + ")"),
        stream_(stream),
        code_(code) {}
  int64_t stream() const { return stream_; }
  uint64_t code() const { return code_; }

 private:
  int64_t stream_;
  uint64_t code_;
};

}  // namespace arsync::dataplane
