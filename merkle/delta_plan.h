// What the sender concluded from the exchange: the new file as a list of pieces, each
// either a range the receiver already has or a range of the sender's own file to send.
// RecipeEncoder turns it into recipe parts, reading the literal bytes as it goes.
#pragma once

#include <cstdint>
#include <vector>

namespace arsync::merkle {

struct PlanOp {
  enum class Kind : uint8_t {
    copy,     // `length` bytes of the receiver's `file` (0: the basis) at `offset`
    literal,  // `length` bytes of the sender's file at `offset`
  };
  Kind kind = Kind::copy;
  uint32_t file = 0;
  uint64_t offset = 0;
  uint64_t length = 0;

  friend bool operator==(const PlanOp&, const PlanOp&) = default;
};

struct DeltaPlan {
  std::vector<PlanOp> ops;  // adjacent pieces already merged
  uint64_t size = 0;        // of the sender's file: the sum of the ops' lengths

  uint64_t literal_bytes() const {
    uint64_t total = 0;
    for (const PlanOp& op : ops) {
      if (op.kind == PlanOp::Kind::literal) total += op.length;
    }
    return total;
  }
};

// The plan for a receiver that writes into its basis as it goes (--inplace): by the time a
// piece is written at position p, the basis's bytes before p are gone. A copy from the basis
// that starts at or after p reads only bytes not yet overwritten (the writer copies forward,
// its reads ahead of its writes); one that starts before p would not, and becomes literal
// bytes, as rsync's --inplace does by matching only at or after the current position.
// Copies from other files are kept.
inline DeltaPlan restrict_for_in_place(const DeltaPlan& plan) {
  DeltaPlan out;
  out.size = plan.size;
  uint64_t position = 0;
  for (const PlanOp& op : plan.ops) {
    PlanOp piece = op;
    if (op.kind == PlanOp::Kind::copy && op.file == 0 && op.offset < position) {
      piece = PlanOp{PlanOp::Kind::literal, 0, position, op.length};
    }
    PlanOp* last = out.ops.empty() ? nullptr : &out.ops.back();
    if (last && piece.kind == PlanOp::Kind::literal && last->kind == PlanOp::Kind::literal &&
        last->offset + last->length == piece.offset) {
      last->length += piece.length;
    } else {
      out.ops.push_back(piece);
    }
    position += op.length;
  }
  return out;
}

}  // namespace arsync::merkle
