// Both sides of a delta exchange in one process, with every message encoded and decoded as
// it would be on the wire: what tests and the wire-budget simulation (bench/delta_sim) run,
// and a reference for how an engine drives DeltaProber and DeltaResponder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "merkle/chunk_index.h"
#include "merkle/delta_codec.h"
#include "merkle/file_hasher.h"
#include "merkle/merkle_tree.h"

namespace arsync::merkle {

// Bytes each kind of message took, as encoded (without any transport framing).
struct DeltaTraffic {
  uint64_t signature_bytes = 0;  // receiver -> sender
  uint64_t probe_bytes = 0;      // sender -> receiver
  uint64_t answer_bytes = 0;     // receiver -> sender
  uint64_t recipe_bytes = 0;     // sender -> receiver
  uint64_t literal_bytes = 0;    // of recipe_bytes: the new file's bytes sent as they are
  size_t probes = 0;             // messages, and as many answers
  uint64_t probe_keys = 0;       // keys in all probes
  size_t recipe_parts = 0;
  // Round trips the probing took (all probes that could be sent before waiting count as one).
  size_t round_trips = 0;

  uint64_t total() const { return signature_bytes + probe_bytes + answer_bytes + recipe_bytes; }
};

struct LoopbackResult {
  std::vector<RecipePart> recipe;  // as the receiver decoded it
  DeltaTraffic traffic;
};

// The receiver has `basis` (and `elsewhere`, may be null); the sender has `mine` (its tree
// cut with the basis's parameters, and its digest) and the file's bytes. Throws
// std::runtime_error if any step fails (a bug: both sides are this library).
LoopbackResult run_delta_loopback(const MerkleTree& basis, const ChunkIndex* elsewhere,
                                  const FileHashes& mine, std::span<const uint8_t> my_bytes);

}  // namespace arsync::merkle
