// A file's content put together from chunks that may arrive out of order: over QUIC the
// ranges of a large file travel on parallel streams and land with positional writes. The
// whole-file hash is still computed in file order, over the stretch that is contiguous
// from the start; a stretch that arrived ahead of it is read back (from the page cache)
// once the gap before it fills.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "arsync/engine/channel.h"
#include "merkle/file_digest.h"

namespace arsync::engine {

class ChunkAssembly {
 public:
  // Stretches waiting for the gap before them; more means a peer scattering tiny pieces.
  static constexpr size_t kMaxStretchesAhead = 1u << 16;

  // `fd` is the temporary file being filled, open for reading and writing.
  explicit ChunkAssembly(int fd) : fd_(fd) {}

  // Writes the chunk at its offset and hashes whatever became contiguous. Returns 0, the
  // errno of a failed write or read-back, or EBADMSG for a chunk that cannot belong to the
  // file: overlapping what arrived, past the end the last chunk announced, a second last.
  int land(const ContentChunk& chunk);

  // The last chunk arrived, and every byte before it.
  bool complete() const { return end_ && contiguous_ == *end_; }
  // Only meaningful once complete().
  bool digest_matches() const { return digest_.finish() == expected_; }
  // Bytes from the start that arrived, without a gap: all that --partial may keep.
  uint64_t contiguous() const { return contiguous_; }

 private:
  bool overlaps(uint64_t begin, uint64_t end) const;
  int catch_up();

  int fd_;
  merkle::StreamDigest digest_;
  uint64_t contiguous_ = 0;
  std::map<uint64_t, uint64_t> ahead_;  // begin -> end of stretches past contiguous_
  std::optional<uint64_t> end_;         // from the last chunk
  fsio::Digest128 expected_{};
};

}  // namespace arsync::engine
