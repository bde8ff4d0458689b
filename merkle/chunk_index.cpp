#include "merkle/chunk_index.h"

#include <mutex>
#include <stdexcept>

#include "merkle/delta_codec.h"

namespace arsync::merkle {

uint32_t ChunkIndex::add(const MerkleTree& tree) {
  if (!(tree.params() == params_) && !tree.empty()) {
    throw std::invalid_argument("ChunkIndex: tree cut with other chunk parameters");
  }
  std::unique_lock lock(mutex_);
  if (files_ == kMaxSourceFile) throw std::length_error("ChunkIndex: too many files");
  const uint32_t file = ++files_;
  entries_.reserve(entries_.size() + tree.nodes().size());
  for (const TreeNode& node : tree.nodes()) {
    entries_.try_emplace(hash_key(node.hash), IndexedContent{file, node.offset, node.length});
  }
  return file;
}

std::optional<IndexedContent> ChunkIndex::find(uint64_t key) const {
  std::shared_lock lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

size_t ChunkIndex::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

uint32_t ChunkIndex::file_count() const {
  std::shared_lock lock(mutex_);
  return files_;
}

}  // namespace arsync::merkle
