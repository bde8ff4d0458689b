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

}  // namespace arsync::merkle
