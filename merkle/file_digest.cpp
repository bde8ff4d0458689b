#include "merkle/file_digest.h"

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <new>

namespace arsync::merkle {
namespace {

Digest128 to_digest(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  Digest128 out;
  static_assert(sizeof(canonical.digest) == sizeof(out));
  for (size_t i = 0; i < out.size(); ++i) out[i] = canonical.digest[i];
  return out;
}

}  // namespace

StreamDigest::StreamDigest() : state_(XXH3_createState()) {
  if (!state_) throw std::bad_alloc();
  XXH3_128bits_reset(state_);
}

StreamDigest::~StreamDigest() {
  XXH3_freeState(state_);
}

void StreamDigest::update(const void* data, size_t size) {
  XXH3_128bits_update(state_, data, size);
}

Digest128 StreamDigest::finish() const {
  return to_digest(XXH3_128bits_digest(state_));
}

Digest128 digest_bytes(const void* data, size_t size) {
  return to_digest(XXH3_128bits(data, size));
}

Digest128 digest_bytes(const void* data, size_t size, uint64_t seed) {
  return to_digest(XXH3_128bits_withSeed(data, size, seed));
}

int digest_fd(int fd, Digest128& out) {
  constexpr size_t kBuffer = 1 << 20;
  thread_local std::unique_ptr<char[]> buffer(new char[kBuffer]);
  StreamDigest digest;
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buffer.get(), kBuffer, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    digest.update(buffer.get(), static_cast<size_t>(n));
    offset += n;
  }
  out = digest.finish();
  return 0;
}

}  // namespace arsync::merkle
