// A file's merkle tree: the chunks are the leaves; each level above groups consecutive
// nodes of the level below and hashes their hashes; the single node at the top (the root)
// identifies the whole content.
//
// Groups are cut by content too: a node closes its group when bits of its own hash say so
// (about 16 children on average, at least 2, at most 64). With a fixed fan-out, one chunk
// more or less anywhere would shift every group after it, and every node above the edit
// would change; cut by content, an edit changes only the groups around it and a moved block
// keeps its subtrees, which the delta exchange then finds whole (docs/DELTA.md has the
// numbers for both).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "merkle/chunk_params.h"
#include "merkle/chunker.h"

namespace arsync::merkle {

inline constexpr uint32_t kMinFanout = 2;
inline constexpr uint32_t kMaxFanout = 64;
inline constexpr uint32_t kTargetFanout = 16;

enum class Grouping {
  by_content,  // what the format uses
  fixed,       // exactly kTargetFanout children: kept to measure the difference against
};

struct TreeNode {
  Digest128 hash{};
  uint64_t offset = 0;  // of the first byte covered
  uint64_t length = 0;  // bytes covered
  // Children, as indices in MerkleTree::nodes(); a leaf (a chunk) has none.
  uint32_t first_child = 0;
  uint32_t child_count = 0;

  bool is_leaf() const { return child_count == 0; }
};

// The 64 bits of a hash that travel in a delta exchange (its first 8 bytes, little-endian).
uint64_t hash_key(const Digest128& hash);

class MerkleTree {
 public:
  MerkleTree() = default;
  // `chunks` must tile [0, size) in order (as the chunkers make them). Throws
  // std::invalid_argument if they do not, std::length_error past 2^32 nodes.
  static MerkleTree build(std::span<const Chunk> chunks, const ChunkParams& params,
                          Grouping grouping = Grouping::by_content);

  const ChunkParams& params() const { return params_; }
  uint64_t size() const { return size_; }
  // Leaves first (index 0 .. chunk_count() - 1), then each level above; the root is last.
  std::span<const TreeNode> nodes() const { return nodes_; }
  const TreeNode& node(uint32_t index) const { return nodes_[index]; }
  size_t chunk_count() const { return chunk_count_; }
  bool empty() const { return nodes_.empty(); }
  // Levels including the leaves: 0 for an empty file, 1 for a file of one chunk.
  size_t height() const { return level_begin_.empty() ? 0 : level_begin_.size() - 1; }
  // The nodes of one level (0: the leaves; height() - 1: the root) are the indices
  // [level_begin(level), level_begin(level + 1)).
  uint32_t level_begin(size_t level) const { return level_begin_[level]; }
  // Only for a non-empty tree.
  uint32_t root_index() const { return static_cast<uint32_t>(nodes_.size() - 1); }
  // The content's identity: the root's hash, or for an empty file a fixed value.
  Digest128 root_hash() const;

 private:
  ChunkParams params_;
  uint64_t size_ = 0;
  size_t chunk_count_ = 0;
  std::vector<uint32_t> level_begin_;  // height() + 1 entries, the last one nodes_.size()
  std::vector<TreeNode> nodes_;
};

}  // namespace arsync::merkle
