#include "merkle/delta_prober.h"

#include <algorithm>
#include <stdexcept>

namespace arsync::merkle {
namespace {

void append(std::vector<PlanOp>& ops, const PlanOp& op) {
  if (!ops.empty()) {
    PlanOp& last = ops.back();
    if (last.kind == op.kind && last.file == op.file && last.offset + last.length == op.offset) {
      last.length += op.length;
      return;
    }
  }
  ops.push_back(op);
}

}  // namespace

DeltaProber::DeltaProber(MerkleTree mine, const Signature& theirs)
    : mine_(std::move(mine)), basis_size_(theirs.basis_size) {
  if (mine_.params().bits != theirs.chunk_bits) {
    throw std::invalid_argument("DeltaProber: the tree is not cut with the signature's chunk size");
  }
  const size_t count = mine_.nodes().size();
  state_.assign(count, State::unasked);
  location_.resize(count);
  children_asked_.assign(count, false);
  if (mine_.empty()) return;
  const uint32_t root = mine_.root_index();
  if (mine_.root_hash() == theirs.basis_root && mine_.size() == theirs.basis_size) {
    // The same content: no question to ask.
    state_[root] = State::have;
    location_[root] = {0, 0};
    return;
  }
  if (theirs.basis_size == 0) {
    // No basis: whatever the receiver has is in its other files, where the usual find is a
    // whole file (renamed, moved or copied). The root alone is asked about first, and the
    // descent goes on a level per round from there.
    queue_.push_back(root);
    return;
  }
  // The root is almost never had (the engine asks for a delta because something changed),
  // and neither are the few nodes right under it: the first probe asks about every node of
  // the top levels, down to the first level of kFirstProbeNodes or more, which saves a round
  // trip per level for about 8 bytes a node. It stops above the leaves, though: in a small
  // file (up to about 1 MiB) the level reached that way is the chunks, nearly all of which
  // the receiver has, and asking about the children of the few parents it lacks costs a
  // round trip but far fewer keys (a 64 KiB file with one edit: ~30 keys instead of ~120).
  size_t level = mine_.height() - 1;
  for (;; --level) {
    for (uint32_t i = mine_.level_begin(level); i < mine_.level_begin(level + 1); ++i) {
      queue_.push_back(i);
    }
    const size_t level_size = mine_.level_begin(level + 1) - mine_.level_begin(level);
    if (level <= 1 || level_size >= kFirstProbeNodes) break;
    for (uint32_t i = mine_.level_begin(level); i < mine_.level_begin(level + 1); ++i) {
      children_asked_[i] = true;
    }
  }
}

void DeltaProber::ask_children(uint32_t node) {
  const TreeNode& n = mine_.node(node);
  if (n.is_leaf() || children_asked_[node]) return;
  children_asked_[node] = true;
  for (uint32_t i = 0; i < n.child_count; ++i) queue_.push_back(n.first_child + i);
}

std::optional<Bytes> DeltaProber::next_probe() {
  if (queue_next_ == queue_.size()) return std::nullopt;
  const size_t count = std::min(kMaxProbeKeys, queue_.size() - queue_next_);
  std::vector<uint32_t> nodes(queue_.begin() + static_cast<ptrdiff_t>(queue_next_),
                              queue_.begin() + static_cast<ptrdiff_t>(queue_next_ + count));
  queue_next_ += count;
  if (queue_next_ == queue_.size()) {
    queue_.clear();
    queue_next_ = 0;
  }
  Probe probe;
  probe.keys.reserve(count);
  for (uint32_t node : nodes) {
    state_[node] = State::asked;
    probe.keys.push_back(hash_key(mine_.node(node).hash));
  }
  in_flight_.push_back(std::move(nodes));
  return encode_probe(probe);
}

bool DeltaProber::take_answer(std::span<const uint8_t> bytes, std::string& error) {
  if (in_flight_.empty()) {
    error = "answer: no probe awaits one";
    return false;
  }
  std::optional<Answer> answer = decode_answer(bytes, error);
  if (!answer) return false;
  const std::vector<uint32_t>& nodes = in_flight_.front();
  if (answer->found.size() != nodes.size()) {
    error = "answer: " + std::to_string(answer->found.size()) + " entries for a probe of " +
            std::to_string(nodes.size()) + " keys";
    return false;
  }
  // Checked whole before anything changes, so a refused answer leaves the state as it was.
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::optional<Location>& at = answer->found[i];
    if (!at) continue;
    const uint64_t length = mine_.node(nodes[i]).length;
    const uint64_t limit = at->file == 0 ? basis_size_ : kMaxDeltaFileSize;
    if (at->offset > limit || length > limit - at->offset) {
      error = "answer: key " + std::to_string(i) + " placed past the end of " +
              (at->file == 0 ? "the basis" : "the file");
      return false;
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const uint32_t node = nodes[i];
    if (answer->found[i]) {
      state_[node] = State::have;
      location_[node] = *answer->found[i];
    } else {
      state_[node] = State::lacks;
      ask_children(node);
    }
  }
  in_flight_.pop_front();
  // The receiver has the whole content (the root comes first in the first probe, with the
  // levels under it): whatever else was to be asked is moot.
  if (state_[mine_.root_index()] == State::have) {
    queue_.clear();
    queue_next_ = 0;
  }
  return true;
}

DeltaPlan DeltaProber::plan() const {
  if (!done()) throw std::logic_error("DeltaProber::plan before the exchange is done");
  DeltaPlan plan;
  plan.size = mine_.size();
  if (mine_.empty()) return plan;
  // Depth first, children in order, so the ops come out in file order.
  std::vector<uint32_t> stack{mine_.root_index()};
  while (!stack.empty()) {
    const uint32_t index = stack.back();
    stack.pop_back();
    const TreeNode& node = mine_.node(index);
    switch (state_[index]) {
      case State::have:
        append(plan.ops,
               {PlanOp::Kind::copy, location_[index].file, location_[index].offset, node.length});
        break;
      case State::lacks:
        if (node.is_leaf()) {
          append(plan.ops, {PlanOp::Kind::literal, 0, node.offset, node.length});
        } else {
          for (uint32_t i = node.child_count; i-- > 0;) stack.push_back(node.first_child + i);
        }
        break;
      case State::unasked:
      case State::asked:
        // Only the children of a node the receiver has stay unasked, and those are never
        // visited; done() rules out asked.
        throw std::logic_error("DeltaProber::plan: node without an answer");
    }
  }
  return plan;
}

}  // namespace arsync::merkle
