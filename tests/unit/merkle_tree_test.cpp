#include "merkle/merkle_tree.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "merkle/chunker.h"
#include "merkle/file_digest.h"

namespace arsync::merkle {
namespace {

std::vector<uint8_t> random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

MerkleTree tree_of(const std::vector<uint8_t>& data, unsigned bits = 9,
                   Grouping grouping = Grouping::by_content) {
  const ChunkParams p = ChunkParams::for_bits(bits);
  return MerkleTree::build(chunk_and_hash(data, p), p, grouping);
}

std::set<uint64_t> internal_keys(const MerkleTree& tree) {
  std::set<uint64_t> keys;
  for (const TreeNode& n : tree.nodes()) {
    if (!n.is_leaf()) keys.insert(hash_key(n.hash));
  }
  return keys;
}

// Checks every structural promise of the tree.
void expect_well_formed(const MerkleTree& tree) {
  const auto nodes = tree.nodes();
  ASSERT_FALSE(nodes.empty());
  for (size_t i = 0; i < tree.chunk_count(); ++i) ASSERT_TRUE(nodes[i].is_leaf());
  const TreeNode& root = nodes.back();
  EXPECT_EQ(root.offset, 0u);
  EXPECT_EQ(root.length, tree.size());
  std::vector<int> parents(nodes.size(), 0);
  std::vector<uint64_t> level(nodes.size(), 0);
  for (size_t i = tree.chunk_count(); i < nodes.size(); ++i) {
    const TreeNode& n = nodes[i];
    ASSERT_GE(n.child_count, 1u);
    ASSERT_LE(n.child_count, kMaxFanout);
    ASSERT_LT(n.first_child + n.child_count - 1, i);
    std::vector<Digest128> hashes;
    uint64_t pos = n.offset;
    for (uint32_t c = 0; c < n.child_count; ++c) {
      const TreeNode& child = nodes[n.first_child + c];
      ASSERT_EQ(child.offset, pos);
      pos += child.length;
      hashes.push_back(child.hash);
      ++parents[n.first_child + c];
    }
    ASSERT_EQ(pos, n.offset + n.length);
    level[i] = level[n.first_child] + 1;
    ASSERT_EQ(n.hash, digest_bytes(hashes.data(), hashes.size() * sizeof(Digest128), level[i]))
        << "node " << i;
  }
  for (size_t i = 0; i + 1 < nodes.size(); ++i) ASSERT_EQ(parents[i], 1) << "node " << i;
  EXPECT_EQ(parents.back(), 0);
  EXPECT_EQ(level.back() + 1, tree.height());
}

TEST(MerkleTree, EmptyFile) {
  const MerkleTree tree = tree_of({});
  EXPECT_TRUE(tree.empty());
  EXPECT_EQ(tree.height(), 0u);
  EXPECT_EQ(tree.size(), 0u);
  EXPECT_EQ(tree.root_hash(), digest_bytes(nullptr, 0, 1));
  EXPECT_NE(tree.root_hash(), digest_bytes(nullptr, 0));
}

TEST(MerkleTree, OneChunkIsItsOwnRoot) {
  const auto data = random_bytes(100, 1);
  const MerkleTree tree = tree_of(data);
  EXPECT_EQ(tree.height(), 1u);
  EXPECT_EQ(tree.nodes().size(), 1u);
  EXPECT_EQ(tree.root_hash(), digest_bytes(data.data(), data.size()));
}

TEST(MerkleTree, ParentsHashTheirChildrenWithTheLevelAsSeed) {
  const auto data = random_bytes(400000, 2);
  const MerkleTree tree = tree_of(data);
  expect_well_formed(tree);
  EXPECT_GE(tree.height(), 3u);
  // The first node above the leaves groups the first chunks.
  const TreeNode& parent = tree.node(static_cast<uint32_t>(tree.chunk_count()));
  ASSERT_EQ(parent.first_child, 0u);
  std::vector<Digest128> children;
  for (uint32_t c = 0; c < parent.child_count; ++c) children.push_back(tree.node(c).hash);
  EXPECT_EQ(parent.hash, digest_bytes(children.data(), children.size() * sizeof(Digest128), 1));
}

TEST(MerkleTree, GroupsAverageAboutTheTargetFanout) {
  const auto data = random_bytes(4 << 20, 3);
  const MerkleTree tree = tree_of(data);
  expect_well_formed(tree);
  const size_t internal = tree.nodes().size() - tree.chunk_count();
  const double fanout = static_cast<double>(tree.nodes().size() - 1) / internal;
  EXPECT_GT(fanout, kTargetFanout * 0.75);
  EXPECT_LT(fanout, kTargetFanout * 1.5);
}

TEST(MerkleTree, RootIdentifiesTheContent) {
  auto data = random_bytes(300000, 4);
  const MerkleTree a = tree_of(data);
  EXPECT_EQ(tree_of(data).root_hash(), a.root_hash());
  data[123456] ^= 1;
  EXPECT_NE(tree_of(data).root_hash(), a.root_hash());
  data[123456] ^= 1;
  data.push_back(0);
  EXPECT_NE(tree_of(data).root_hash(), a.root_hash());
}

TEST(MerkleTree, IdenticalChunksStillMakeAShallowTree) {
  const std::vector<uint8_t> zeros(3 << 20, 0);
  const MerkleTree tree = tree_of(zeros);
  expect_well_formed(tree);
  // Groups hold at least two nodes, so each level at most halves: log2 bounds the height.
  size_t bound = 2;
  for (size_t n = tree.chunk_count(); n > 1; n = (n + 1) / 2) ++bound;
  EXPECT_LE(tree.height(), bound);
}

TEST(MerkleTree, AnEditChangesOnlyTheSubtreesAroundIt) {
  auto data = random_bytes(4 << 20, 5);
  const MerkleTree before = tree_of(data);
  const MerkleTree before_fixed = tree_of(data, 9, Grouping::fixed);
  // Delete 10,000 bytes near the start: many chunks fewer.
  data.erase(data.begin() + 100000, data.begin() + 110000);
  const MerkleTree after = tree_of(data);
  const MerkleTree after_fixed = tree_of(data, 9, Grouping::fixed);
  expect_well_formed(after_fixed);

  auto kept = [](const MerkleTree& old_tree, const MerkleTree& new_tree) {
    const std::set<uint64_t> old_keys = internal_keys(old_tree);
    size_t same = 0;
    const std::set<uint64_t> new_keys = internal_keys(new_tree);
    for (uint64_t k : new_keys) same += old_keys.count(k);
    return static_cast<double>(same) / static_cast<double>(new_keys.size());
  };
  // Grouped by content, nearly all subtrees survive; with a fixed fan-out, those after the
  // edit all change unless the chunk count happened to shift by a multiple of 16.
  EXPECT_GT(kept(before, after), 0.9);
  EXPECT_LT(kept(before_fixed, after_fixed), 0.2);
}

TEST(MerkleTree, RejectsChunksThatDoNotTileTheFile) {
  const ChunkParams p = ChunkParams::for_bits(9);
  std::vector<Chunk> chunks = {{0, 10, {}}, {11, 10, {}}};
  EXPECT_THROW(MerkleTree::build(chunks, p), std::invalid_argument);
  chunks = {{0, 10, {}}, {10, 0, {}}};
  EXPECT_THROW(MerkleTree::build(chunks, p), std::invalid_argument);
  chunks = {{5, 10, {}}};
  EXPECT_THROW(MerkleTree::build(chunks, p), std::invalid_argument);
}

TEST(MerkleTree, HashKeyIsTheFirstEightBytesLittleEndian) {
  Digest128 d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(i + 1);
  EXPECT_EQ(hash_key(d), 0x0807060504030201u);
}

}  // namespace
}  // namespace arsync::merkle
