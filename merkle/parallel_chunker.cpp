#include "merkle/parallel_chunker.h"

#include <algorithm>
#include <stdexcept>

#include <tbb/parallel_for.h>

#include "merkle/file_digest.h"

namespace arsync::merkle {
namespace {

// What one segment's task found: chunks from the segment's start up to the first chunk
// that reaches the segment's end. `stopped` when chunking ran into the end of data whose
// last chunk cannot be cut yet (so nothing after it exists either).
struct SegmentChunks {
  std::vector<Chunk> chunks;
  bool stopped = false;
};

SegmentChunks chunk_segment(std::span<const uint8_t> data, size_t begin, size_t end,
                            const ChunkParams& params, uint64_t base, bool at_end) {
  SegmentChunks out;
  out.chunks.reserve((end - begin) / params.avg_size + 2);
  size_t pos = begin;
  while (pos < end) {
    const size_t length = next_chunk_length(data, pos, params, at_end);
    if (length == 0) {
      out.stopped = true;
      break;
    }
    out.chunks.push_back(
        {base + pos, static_cast<uint32_t>(length), digest_bytes(data.data() + pos, length)});
    pos += length;
  }
  return out;
}

}  // namespace

std::vector<Chunk> chunk_and_hash_parallel(std::span<const uint8_t> data, const ChunkParams& params,
                                           uint64_t base, bool at_end, size_t segment_size) {
  if (segment_size == 0) throw std::invalid_argument("chunk_and_hash_parallel: segment size 0");
  const size_t segments = (data.size() + segment_size - 1) / segment_size;
  if (segments <= 1) return chunk_and_hash(data, params, base, at_end);

  std::vector<SegmentChunks> found(segments);
  tbb::parallel_for(size_t{0}, segments, [&](size_t i) {
    const size_t begin = i * segment_size;
    const size_t end = std::min(data.size(), begin + segment_size);
    found[i] = chunk_segment(data, begin, end, params, base, at_end);
  });

  // The sequential chain: segment 0's chunks are part of it as they are.
  std::vector<Chunk> chain = std::move(found[0].chunks);
  if (found[0].stopped) return chain;
  size_t pos =
      chain.empty() ? 0 : static_cast<size_t>(chain.back().offset - base) + chain.back().length;
  for (size_t i = 1; i < segments; ++i) {
    const std::vector<Chunk>& theirs = found[i].chunks;
    const size_t segment_end = std::min(data.size(), (i + 1) * segment_size);
    size_t next = 0;  // the first of theirs that does not start before pos
    for (;;) {
      while (next < theirs.size() && theirs[next].offset - base < pos) ++next;
      if (next < theirs.size() && theirs[next].offset - base == pos) {
        // Converged: the rest of this segment's chunks are the chain's.
        chain.insert(chain.end(), theirs.begin() + static_cast<ptrdiff_t>(next), theirs.end());
        if (found[i].stopped) return chain;
        pos = static_cast<size_t>(chain.back().offset - base) + chain.back().length;
        break;
      }
      // Past this segment without meeting it: look for the meeting point in the next one.
      if (pos >= segment_end) break;
      const size_t length = next_chunk_length(data, pos, params, at_end);
      if (length == 0) return chain;
      chain.push_back(
          {base + pos, static_cast<uint32_t>(length), digest_bytes(data.data() + pos, length)});
      pos += length;
    }
  }
  return chain;
}

}  // namespace arsync::merkle
