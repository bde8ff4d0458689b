// Content-defined chunking: cuts fall where a gear hash of the last 64 bytes has its top
// bits zero, so an insertion or deletion moves only the cuts next to it and every chunk
// further on keeps its bytes, and its hash. Sequential here; parallel_chunker.h splits a
// large buffer into segments and gives the same chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fsio/file_entry.h"
#include "merkle/chunk_params.h"

namespace arsync::merkle {

using fsio::Digest128;

struct Chunk {
  uint64_t offset = 0;  // in the file
  uint32_t length = 0;
  Digest128 hash{};  // XXH3-128 of the chunk's bytes

  friend bool operator==(const Chunk&, const Chunk&) = default;
};

// The length of the chunk that starts at data[0]. `data` must run to the end of the file,
// or at least params.max_size bytes: the cut depends on nothing past that. When no cut is
// found before the data ends, the chunk is all of it (the file's last chunk).
size_t cut_length(std::span<const uint8_t> data, const ChunkParams& params);

// The length of the chunk at data[pos], where `data` starts a chunk-aligned stretch of the
// file and `at_end` says whether it reaches the file's end. 0 when pos is the end of the
// data, or when the chunk runs to the end of data that stops short of the file's end and is
// shorter than max_size: more bytes could move its cut.
size_t next_chunk_length(std::span<const uint8_t> data, size_t pos, const ChunkParams& params,
                         bool at_end);

// Cuts `data` into chunks and hashes each; `data` starts at file offset `base`. When
// `at_end` is false, `data` stops short of the file's end: the chunk that reaches its end
// may be cut differently once more data is seen, so it is left out (the caller starts again
// at its offset).
std::vector<Chunk> chunk_and_hash(std::span<const uint8_t> data, const ChunkParams& params,
                                  uint64_t base = 0, bool at_end = true);

}  // namespace arsync::merkle
