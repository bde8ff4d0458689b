#include "dataplane/quic_byte_stream.h"

#include <span>

namespace arsync::dataplane {

size_t QuicByteStream::read_some(void* buf, size_t n) {
  if (ended_ || n == 0) return 0;
  size_t got = connection_.read(stream_, std::span<uint8_t>(static_cast<uint8_t*>(buf), n));
  if (got == 0) ended_ = true;
  return got;
}

void QuicByteStream::write_all(const void* buf, size_t n) {
  if (n == 0) return;
  connection_.write(stream_, std::span<const uint8_t>(static_cast<const uint8_t*>(buf), n));
}

void QuicByteStream::close_write() {
  connection_.finish(stream_);
}

}  // namespace arsync::dataplane
