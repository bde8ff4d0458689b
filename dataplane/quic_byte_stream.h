// One QUIC stream seen as a control::ByteStream, so that anything that speaks frames over a
// byte stream (the stream channel, the control messages) can run over QUIC unchanged: a
// long-lived control stream, typically.
#pragma once

#include <cstdint>

#include "control/byte_stream.h"
#include "dataplane/quic_connection.h"

namespace arsync::dataplane {

class QuicByteStream final : public control::ByteStream {
 public:
  // `connection` must outlive this object.
  QuicByteStream(QuicConnection& connection, int64_t stream)
      : connection_(connection), stream_(stream) {}

  int64_t id() const { return stream_; }
  size_t read_some(void* buf, size_t n) override;
  void write_all(const void* buf, size_t n) override;
  void close_write() override;

 private:
  QuicConnection& connection_;
  int64_t stream_;
  bool ended_ = false;  // read_some returned 0: do not ask the stream again
};

}  // namespace arsync::dataplane
