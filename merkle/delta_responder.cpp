#include "merkle/delta_responder.h"

#include <algorithm>
#include <stdexcept>

namespace arsync::merkle {

uint64_t max_probe_keys(uint64_t size, const ChunkParams& params) {
  // Every chunk but the last is longer than min_size.
  const uint64_t chunks = size / (uint64_t{params.min_size} + 1) + 1;
  return 2 * chunks + 64;
}

DeltaResponder::DeltaResponder(const MerkleTree& basis, const ChunkIndex* elsewhere)
    : elsewhere_(elsewhere) {
  if (elsewhere_ && !(elsewhere_->params() == basis.params())) {
    throw std::invalid_argument("DeltaResponder: index cut with other chunk parameters");
  }
  signature_.chunk_bits = static_cast<uint8_t>(basis.params().bits);
  signature_.basis_size = basis.size();
  signature_.basis_root = basis.root_hash();
  basis_.reserve(basis.nodes().size());
  for (const TreeNode& node : basis.nodes()) basis_.emplace_back(hash_key(node.hash), node.offset);
  // Among equal keys the smallest offset comes first, and is the one found.
  std::sort(basis_.begin(), basis_.end());
}

std::optional<Location> DeltaResponder::find(uint64_t key) const {
  auto it = std::lower_bound(basis_.begin(), basis_.end(), std::pair<uint64_t, uint64_t>{key, 0});
  if (it != basis_.end() && it->first == key) return Location{0, it->second};
  if (elsewhere_) {
    if (auto content = elsewhere_->find(key)) return Location{content->file, content->offset};
  }
  return std::nullopt;
}

Answer DeltaResponder::answer(const Probe& probe) const {
  Answer out;
  out.found.reserve(probe.keys.size());
  for (uint64_t key : probe.keys) out.found.push_back(find(key));
  return out;
}

std::optional<Bytes> DeltaResponder::answer(std::span<const uint8_t> probe,
                                            std::string& error) const {
  std::optional<Probe> decoded = decode_probe(probe, error);
  if (!decoded) return std::nullopt;
  return encode_answer(answer(*decoded));
}

}  // namespace arsync::merkle
