// The sender's side of the delta exchange: it walks down its own merkle tree asking the
// receiver which subtrees it already has (anywhere in its basis, or in other files of its
// ChunkIndex). A node the receiver has becomes one copy; a node it lacks is asked about
// child by child; a chunk it lacks is sent. An unchanged stretch of the file thus costs
// one question near the top of the tree, and a small edit a few questions per level.
//
// Pure: it consumes and produces encoded messages and never does I/O, so the engine can
// drive it over any transport. Probes may be pipelined: send every message next_probe()
// gives, feed the answers back in the order they come (the receiver answers in order), and
// ask again. Finished when done(); then plan() says what to send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "merkle/delta_codec.h"
#include "merkle/delta_plan.h"
#include "merkle/merkle_tree.h"

namespace arsync::merkle {

// The first probe covers the top levels of the tree down to the first one that has this
// many nodes, but never the leaves (unless the root is one).
inline constexpr size_t kFirstProbeNodes = 64;

class DeltaProber {
 public:
  // `mine` is the new file's tree, cut with the parameters the signature names
  // (ChunkParams::for_bits(theirs.chunk_bits)): std::invalid_argument otherwise.
  DeltaProber(MerkleTree mine, const Signature& theirs);

  // The next probe to send, or nullopt when there is nothing to ask until more answers
  // arrive (or at all).
  std::optional<Bytes> next_probe();

  // The answer to the oldest probe not yet answered. False, with the reason, for an answer
  // that is malformed, unexpected, of the wrong length, or that places content past the end
  // of the basis; the exchange cannot go on then (send the file whole).
  bool take_answer(std::span<const uint8_t> answer, std::string& error);

  // Nothing left to ask and nothing awaiting an answer.
  bool done() const { return queue_next_ == queue_.size() && in_flight_.empty(); }
  // Probes sent that await an answer.
  size_t in_flight() const { return in_flight_.size(); }

  // Only once done(): std::logic_error before.
  DeltaPlan plan() const;

 private:
  enum class State : uint8_t { unasked, asked, have, lacks };

  void ask_children(uint32_t node);

  MerkleTree mine_;
  uint64_t basis_size_ = 0;
  std::vector<State> state_;
  std::vector<Location> location_;  // where the receiver has a node (state have)
  std::vector<bool> children_asked_;
  std::vector<uint32_t> queue_;  // nodes to ask about, in order
  size_t queue_next_ = 0;
  std::deque<std::vector<uint32_t>> in_flight_;  // the nodes of each unanswered probe
};

}  // namespace arsync::merkle
