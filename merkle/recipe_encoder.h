// Turns the sender's DeltaPlan into recipe parts, reading the literal bytes from the new
// file as it goes, so that at most one part's worth (kMaxRecipeLiteral) is in memory at a
// time. Parts respect the decoder's bounds: a long literal is split over ops and parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "merkle/delta_codec.h"
#include "merkle/delta_plan.h"

namespace arsync::merkle {

// Fills `out` with the sender's file's bytes at `offset`. Returns 0 or an errno value
// (ENODATA when the file ends first: it changed since it was hashed).
using ReadAt = std::function<int(uint64_t offset, std::span<uint8_t> out)>;

ReadAt read_from_fd(int fd);
// The file's bytes are in memory (tests, simulations); `bytes` must outlive the reader.
ReadAt read_from_memory(std::span<const uint8_t> bytes);

class RecipeEncoder {
 public:
  // `digest` is the whole-file XXH3-128 of the sender's file (FileHashes::digest).
  RecipeEncoder(DeltaPlan plan, const Digest128& digest, size_t max_ops = kMaxRecipeOps,
                size_t max_literal = kMaxRecipeLiteral);

  // The next part; nullopt once the last part has been given, or when reading failed (then
  // `error` is the errno value, else 0).
  std::optional<RecipePart> next(const ReadAt& read, int& error);

  bool finished() const { return finished_; }

 private:
  DeltaPlan plan_;
  Digest128 digest_;
  size_t max_ops_;
  size_t max_literal_;
  size_t next_op_ = 0;
  uint64_t op_done_ = 0;  // bytes of ops_[next_op_] already in earlier parts
  bool finished_ = false;
};

}  // namespace arsync::merkle
