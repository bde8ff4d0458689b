// The receiver's side of the delta exchange: it opens with a Signature (the chunk size to
// cut with, and what its basis is), then answers each probe from an index of every node of
// its basis tree, and from a ChunkIndex of its other files. Pure and stateless between
// probes: answers depend only on the probe, so they can be computed as probes arrive, on
// any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "merkle/chunk_index.h"
#include "merkle/delta_codec.h"
#include "merkle/merkle_tree.h"

namespace arsync::merkle {

// The most keys an honest sender asks about for a new file of `size` bytes cut with
// `params`: each node of its tree once, and a tree has fewer than twice as many nodes as
// chunks (plus one per level). The receiver knows the size from the file list, so it can
// refuse to answer past this and stop a peer that probes forever.
uint64_t max_probe_keys(uint64_t size, const ChunkParams& params);

class DeltaResponder {
 public:
  // `basis` is the tree of the receiver's file, cut with the parameters it announces;
  // `elsewhere` (may be null; must outlive the responder) must use the same parameters
  // (std::invalid_argument otherwise). The basis is looked up first.
  explicit DeltaResponder(const MerkleTree& basis, const ChunkIndex* elsewhere = nullptr);

  Signature signature() const { return signature_; }

  // The encoded answer to an encoded probe, or nullopt with the reason if it is malformed.
  std::optional<Bytes> answer(std::span<const uint8_t> probe, std::string& error) const;
  // The same on decoded messages.
  Answer answer(const Probe& probe) const;

 private:
  std::optional<Location> find(uint64_t key) const;

  Signature signature_;
  // (key, offset in the basis), sorted by key: every node of the basis tree.
  std::vector<std::pair<uint64_t, uint64_t>> basis_;
  const ChunkIndex* elsewhere_;
};

}  // namespace arsync::merkle
