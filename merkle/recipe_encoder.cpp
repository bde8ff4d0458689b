#include "merkle/recipe_encoder.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace arsync::merkle {

ReadAt read_from_fd(int fd) {
  return [fd](uint64_t offset, std::span<uint8_t> out) -> int {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      if (n == 0) return ENODATA;
      done += static_cast<size_t>(n);
    }
    return 0;
  };
}

ReadAt read_from_memory(std::span<const uint8_t> bytes) {
  return [bytes](uint64_t offset, std::span<uint8_t> out) -> int {
    if (offset > bytes.size() || out.size() > bytes.size() - offset) return ENODATA;
    if (!out.empty()) std::memcpy(out.data(), bytes.data() + offset, out.size());
    return 0;
  };
}

RecipeEncoder::RecipeEncoder(DeltaPlan plan, const Digest128& digest, size_t max_ops,
                             size_t max_literal)
    : plan_(std::move(plan)), digest_(digest), max_ops_(max_ops), max_literal_(max_literal) {
  if (max_ops_ == 0 || max_ops_ > kMaxRecipeOps || max_literal_ == 0 ||
      max_literal_ > kMaxRecipeLiteral) {
    throw std::invalid_argument("RecipeEncoder: part limits outside the decoder's bounds");
  }
}

std::optional<RecipePart> RecipeEncoder::next(const ReadAt& read, int& error) {
  error = 0;
  if (finished_) return std::nullopt;
  RecipePart part;
  while (next_op_ < plan_.ops.size() && part.ops.size() < max_ops_) {
    const PlanOp& op = plan_.ops[next_op_];
    if (op.kind == PlanOp::Kind::copy) {
      part.ops.push_back({RecipeOp::Kind::copy, op.file, op.offset, op.length});
      ++next_op_;
      continue;
    }
    const size_t room = max_literal_ - part.literals.size();
    if (room == 0) break;
    const uint64_t take = std::min<uint64_t>(op.length - op_done_, room);
    const size_t at = part.literals.size();
    part.literals.resize(at + static_cast<size_t>(take));
    if (int err = read(op.offset + op_done_, {part.literals.data() + at, take})) {
      error = err;
      return std::nullopt;
    }
    part.ops.push_back({RecipeOp::Kind::literal, 0, at, take});
    op_done_ += take;
    if (op_done_ == op.length) {
      op_done_ = 0;
      ++next_op_;
    }
  }
  if (next_op_ == plan_.ops.size()) {
    part.last = true;
    part.total_size = plan_.size;
    part.digest = digest_;
    finished_ = true;
  }
  return part;
}

}  // namespace arsync::merkle
