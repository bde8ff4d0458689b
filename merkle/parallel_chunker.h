// Chunking and hashing one large buffer on several cores, with exactly the chunks that
// chunk_and_hash() would make. Each segment is chunked from its own start; then, going
// left to right, the chunks coming from the previous segment are carried on one at a time
// until one of them ends where a chunk of the next segment starts. From that point on both
// agree (a chunk's cut depends only on where it starts), so the rest of that segment is
// taken as it is. On ordinary data the two meet within a few chunks; on data without any
// cut (long runs of one byte value, where every chunk is max_size) they may never meet and
// the join does the work sequentially: slower, never different.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "merkle/chunker.h"

namespace arsync::merkle {

// Segments this large keep the joins' share of the work negligible.
inline constexpr size_t kDefaultSegmentSize = 1 << 20;

// Same contract and result as chunk_and_hash(); segment_size (at least 1) is a parameter so
// that tests can make joins frequent.
std::vector<Chunk> chunk_and_hash_parallel(std::span<const uint8_t> data, const ChunkParams& params,
                                           uint64_t base = 0, bool at_end = true,
                                           size_t segment_size = kDefaultSegmentSize);

}  // namespace arsync::merkle
