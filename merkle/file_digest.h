// Whole-file XXH3-128: what --checksum compares and what verifies a received file.
#pragma once

#include <cstddef>
#include <cstdint>

#include <xxhash.h>

#include "fsio/file_entry.h"

namespace arsync::merkle {

using fsio::Digest128;

// Hashes the whole content of fd (read from offset 0). Returns 0 or an errno value.
int digest_fd(int fd, Digest128& out);

// Incremental XXH3-128 for content that arrives in pieces.
class StreamDigest {
 public:
  StreamDigest();
  ~StreamDigest();
  StreamDigest(const StreamDigest&) = delete;
  StreamDigest& operator=(const StreamDigest&) = delete;

  void update(const void* data, size_t size);
  Digest128 finish() const;

 private:
  XXH3_state_t* state_;
};

Digest128 digest_bytes(const void* data, size_t size);
// XXH3-128 with a seed: what keeps the hash of a merkle node apart from that of a chunk
// holding the same bytes.
Digest128 digest_bytes(const void* data, size_t size, uint64_t seed);

}  // namespace arsync::merkle
