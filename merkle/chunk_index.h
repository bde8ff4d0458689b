// Content the receiver already has in files other than the basis (a file renamed or moved,
// a copy elsewhere in the tree): every node of their merkle trees, findable by the key of
// its hash, so a DeltaResponder can answer "I have it, there" for content that is not in
// the basis. Files may be added while other threads look keys up (the receiver indexes
// more of its files as the file list goes on, while answering probes of earlier files).
//
// Only files cut with the same ChunkParams can match, so there is one index per parameter
// set in use. Whatever is indexed can end up copied into a file the sender names: index
// only files the sender may see anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "merkle/chunk_params.h"
#include "merkle/merkle_tree.h"

namespace arsync::merkle {

struct IndexedContent {
  uint32_t file = 0;  // as add() numbered it
  uint64_t offset = 0;
  uint64_t length = 0;
};

class ChunkIndex {
 public:
  explicit ChunkIndex(const ChunkParams& params) : params_(params) {}
  ChunkIndex(const ChunkIndex&) = delete;
  ChunkIndex& operator=(const ChunkIndex&) = delete;

  // Indexes every node of `tree` (chunks and the subtrees above them) and returns the id
  // recipes will name the file by: 1, 2, ... (0 is always the basis). Where two nodes share
  // a key, the first one added stays. Throws std::invalid_argument for a tree cut with other
  // parameters, std::length_error past kMaxSourceFile files.
  uint32_t add(const MerkleTree& tree);

  std::optional<IndexedContent> find(uint64_t key) const;

  const ChunkParams& params() const { return params_; }
  size_t size() const;
  uint32_t file_count() const;

 private:
  mutable std::shared_mutex mutex_;
  ChunkParams params_;
  uint32_t files_ = 0;
  std::unordered_map<uint64_t, IndexedContent> entries_;
};

}  // namespace arsync::merkle
