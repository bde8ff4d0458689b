#include "merkle/merkle_tree.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "merkle/file_digest.h"

namespace arsync::merkle {
namespace {

// Whether a group that already holds `count` nodes, the last of them `last`, ends here.
// Normalised like the chunker: before kTargetFanout children a group closes with
// probability 1/32, after it 1/4, so most groups have 16 to 24 children and few are far
// larger (descending into a changed node costs one probe per child). The bits come from the
// hash's last byte, not from the 8 bytes that travel as its key.
bool closes_group(const TreeNode& last, uint32_t count, Grouping grouping) {
  if (grouping == Grouping::fixed) return count == kTargetFanout;
  if (count >= kMaxFanout) return true;
  if (count < kMinFanout) return false;
  const uint8_t bits = last.hash[15];
  return count < kTargetFanout ? (bits & 31) == 0 : (bits & 3) == 0;
}

}  // namespace

uint64_t hash_key(const Digest128& hash) {
  uint64_t key = 0;
  for (size_t i = 0; i < 8; ++i) key |= uint64_t{hash[i]} << (8 * i);
  return key;
}

MerkleTree MerkleTree::build(std::span<const Chunk> chunks, const ChunkParams& params,
                             Grouping grouping) {
  MerkleTree tree;
  tree.params_ = params;
  tree.chunk_count_ = chunks.size();
  if (chunks.empty()) return tree;
  // Every level but the root has at least kMinFanout nodes per group (except its last), so
  // the whole tree holds fewer than twice as many nodes as leaves.
  if (chunks.size() > std::numeric_limits<uint32_t>::max() / 2) {
    throw std::length_error("merkle tree: too many chunks (" + std::to_string(chunks.size()) + ")");
  }
  tree.nodes_.reserve(chunks.size() + chunks.size() / (kTargetFanout - 1) + 8);
  uint64_t expected = 0;
  for (const Chunk& c : chunks) {
    if (c.offset != expected || c.length == 0) {
      throw std::invalid_argument("merkle tree: chunks do not tile the file at offset " +
                                  std::to_string(expected));
    }
    tree.nodes_.push_back({c.hash, c.offset, c.length, 0, 0});
    expected += c.length;
  }
  tree.size_ = expected;
  tree.level_begin_ = {0};

  // Child hashes of the group being closed, hashed in one call.
  std::vector<Digest128> group;
  group.reserve(kMaxFanout);
  size_t begin = 0;
  size_t end = tree.nodes_.size();
  for (uint64_t level = 1; end - begin > 1; ++level) {
    uint32_t first = static_cast<uint32_t>(begin);
    for (size_t i = begin; i < end; ++i) {
      group.push_back(tree.nodes_[i].hash);
      const uint32_t count = static_cast<uint32_t>(i + 1 - first);
      if (i + 1 == end || closes_group(tree.nodes_[i], count, grouping)) {
        const TreeNode& head = tree.nodes_[first];
        const TreeNode& tail = tree.nodes_[i];
        TreeNode parent;
        parent.hash = digest_bytes(group.data(), group.size() * sizeof(Digest128), level);
        parent.offset = head.offset;
        parent.length = tail.offset + tail.length - head.offset;
        parent.first_child = first;
        parent.child_count = count;
        tree.nodes_.push_back(parent);
        group.clear();
        first = static_cast<uint32_t>(i + 1);
      }
    }
    tree.level_begin_.push_back(static_cast<uint32_t>(end));
    begin = end;
    end = tree.nodes_.size();
  }
  tree.level_begin_.push_back(static_cast<uint32_t>(end));
  return tree;
}

Digest128 MerkleTree::root_hash() const {
  if (nodes_.empty()) return digest_bytes(nullptr, 0, 1);
  return nodes_.back().hash;
}

}  // namespace arsync::merkle
