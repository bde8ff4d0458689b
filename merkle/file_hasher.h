// Everything a delta needs to know about one file's content: its chunks' merkle tree and
// its whole-file XXH3-128, computed in one read of the file. Large files are read in
// windows of kHashWindow bytes whose segments are chunked on all cores; many files are
// hashed side by side.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "merkle/chunk_params.h"
#include "merkle/file_digest.h"
#include "merkle/merkle_tree.h"
#include "merkle/parallel_chunker.h"

namespace arsync::merkle {

inline constexpr size_t kHashWindow = 16 << 20;

struct FileHashes {
  MerkleTree tree;
  Digest128 digest{};  // whole-file XXH3-128 of the same bytes the tree covers
  // 0, or the errno of a failed read (the other fields are then meaningless).
  int error = 0;
};

// Whether hash_file also computes the whole-file XXH3-128. A delta's receiver needs only
// its basis's tree (the result is checked against the sender's digest), and skipping the
// digest saves a third of the hashing.
enum class WholeDigest { compute, skip };

// Hashes the content of fd from offset 0 up to its end as read (a file that changes while
// it is read gives a tree and a digest of what was read: both always describe the same
// bytes). window and segment_size are parameters so that tests can make them small; window
// must exceed params.max_size (std::invalid_argument otherwise). With WholeDigest::skip,
// FileHashes::digest stays zero.
FileHashes hash_file(int fd, const ChunkParams& params, size_t window = kHashWindow,
                     size_t segment_size = kDefaultSegmentSize,
                     WholeDigest whole = WholeDigest::compute);

// The same for bytes in memory (no window: the whole buffer is at hand).
FileHashes hash_bytes(std::span<const uint8_t> data, const ChunkParams& params);

// What --checksum compares: the merkle root of a file's content, chunked with the parameters
// chunk_params_for_size(listed_size) gives. The parameters depend on the size only, so two
// files of the same size (the only ones whose roots are compared) are cut alike, and the
// tree is the one a delta against the file would use as its basis. Segments of a large file
// are chunked on all cores; no whole-file digest is computed. FileHashes::digest holds the
// root (meaningless if error is set).
FileHashes hash_for_checksum(int fd, uint64_t listed_size);

// Hashes several files at once, each with its own parameters; out[i] is for fds[i].
std::vector<FileHashes> hash_files(std::span<const int> fds, std::span<const ChunkParams> params);

}  // namespace arsync::merkle
