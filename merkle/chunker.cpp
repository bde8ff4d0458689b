#include "merkle/chunker.h"

#include <algorithm>

#include "merkle/file_digest.h"
#include "merkle/gear_table.h"

namespace arsync::merkle {
namespace {

// The hash covers the last 64 bytes (each byte's table value is shifted out after 64
// steps), so scanning starts this far before the first place a cut may fall: the cut then
// depends on the bytes around it only, not on where the chunk started.
constexpr size_t kWindow = 64;
static_assert(kWindow * 4 <= (size_t{1} << kMinChunkBits), "min_size must cover the window");

// Scans data[from, to) for a position whose hash has no bit of `mask` set; returns the
// length of the chunk that ends there, or 0. Four bytes a step: the hashes after each of
// them are (h << k) plus a sum of the table values that does not depend on h, so the
// loop-carried dependency is one shift-add per four bytes instead of one per byte, and the
// four tests (almost never true) share one branch. About 1.25x the plain byte loop.
inline size_t scan(const uint8_t* data, size_t from, size_t to, uint64_t mask, uint64_t& hash) {
  uint64_t h = hash;
  size_t i = from;
  for (; i + 4 <= to; i += 4) {
    const uint64_t g0 = kGearTable[data[i]];
    const uint64_t g1 = kGearTable[data[i + 1]];
    const uint64_t g2 = kGearTable[data[i + 2]];
    const uint64_t g3 = kGearTable[data[i + 3]];
    const uint64_t p1 = (g0 << 1) + g1;
    const uint64_t p2 = (p1 << 1) + g2;
    const uint64_t p3 = (p2 << 1) + g3;
    const uint64_t h1 = (h << 1) + g0;
    const uint64_t h2 = (h << 2) + p1;
    const uint64_t h3 = (h << 3) + p2;
    const uint64_t h4 = (h << 4) + p3;
    if (__builtin_expect(!((h1 & mask) && (h2 & mask) && (h3 & mask) && (h4 & mask)), 0)) {
      if (!(h1 & mask)) return i + 1;
      if (!(h2 & mask)) return i + 2;
      if (!(h3 & mask)) return i + 3;
      return i + 4;
    }
    h = h4;
  }
  for (; i < to; ++i) {
    h = (h << 1) + kGearTable[data[i]];
    if (!(h & mask)) return i + 1;
  }
  hash = h;
  return 0;
}

}  // namespace

size_t cut_length(std::span<const uint8_t> data, const ChunkParams& params) {
  const size_t size = data.size();
  if (size <= params.min_size) return size;
  const uint8_t* p = data.data();
  const size_t end = std::min<size_t>(size, params.max_size);
  const size_t normal = std::min<size_t>(end, params.avg_size);
  uint64_t hash = 0;
  for (size_t i = params.min_size - kWindow; i < params.min_size; ++i) {
    hash = (hash << 1) + kGearTable[p[i]];
  }
  if (size_t cut = scan(p, params.min_size, normal, params.mask_small, hash)) return cut;
  if (size_t cut = scan(p, normal, end, params.mask_large, hash)) return cut;
  return end;
}

size_t next_chunk_length(std::span<const uint8_t> data, size_t pos, const ChunkParams& params,
                         bool at_end) {
  const size_t remaining = data.size() - pos;
  const size_t length = cut_length(data.subspan(pos), params);
  // Without the file's end in view, a chunk that runs to the end of the data may be cut
  // elsewhere once more bytes are seen, unless it is already as long as a chunk can be.
  if (!at_end && length == remaining && remaining < params.max_size) return 0;
  return length;
}

std::vector<Chunk> chunk_and_hash(std::span<const uint8_t> data, const ChunkParams& params,
                                  uint64_t base, bool at_end) {
  std::vector<Chunk> chunks;
  chunks.reserve(data.size() / params.avg_size + 1);
  size_t pos = 0;
  while (size_t length = next_chunk_length(data, pos, params, at_end)) {
    chunks.push_back(
        {base + pos, static_cast<uint32_t>(length), digest_bytes(data.data() + pos, length)});
    pos += length;
  }
  return chunks;
}

}  // namespace arsync::merkle
