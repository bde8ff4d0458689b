// The receiver's last step: builds the new file from recipe parts as they arrive and, after
// the last one, checks that it is exactly the sender's file (its size and whole-file
// XXH3-128). A corrupted basis, a wrong copy (a truncated hash that matched the wrong
// content) or a damaged recipe all end here as a mismatch: the caller then discards the
// file and asks for it whole.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fsio/apply_recipe.h"
#include "merkle/delta_codec.h"
#include "merkle/file_digest.h"

namespace arsync::merkle {

class RecipeApplier {
 public:
  // Writes to out_fd (a new, empty file). sources[0] is the basis; sources[i] the file the
  // ChunkIndex numbered i (-1 for none).
  RecipeApplier(int out_fd, std::vector<int> sources);
  // --inplace: out_fd is the basis itself (sources[0]). A copy from the basis that starts
  // before the write position would read bytes already overwritten: refused, as a failure.
  RecipeApplier(int out_fd, std::vector<int> sources, bool in_place);
  // The writer reports every byte to this object's digest.
  RecipeApplier(const RecipeApplier&) = delete;
  RecipeApplier& operator=(const RecipeApplier&) = delete;

  // Gives copies from `file` the descriptor `fd` (see fsio::RecipeWriter::set_source).
  void set_source(uint32_t file, int fd) { writer_.set_source(file, fd); }

  // Applies one part. False, with the reason, for a part after the last, a copy from a file
  // without a descriptor or past its end, or a failed write.
  bool apply(const RecipePart& part, std::string& error);

  // Once the last part is applied: true if the result has the size and digest it announced.
  bool finish(std::string& error);

  uint64_t written() const { return writer_.written(); }

 private:
  StreamDigest digest_;
  fsio::RecipeWriter writer_;
  bool in_place_ = false;
  bool have_last_ = false;
  uint64_t total_size_ = 0;
  Digest128 expected_{};
};

// Applies a whole recipe and checks it: the same as apply() on each part, then finish().
bool apply_recipe(std::span<const RecipePart> parts, std::vector<int> sources, int out_fd,
                  std::string& error);

}  // namespace arsync::merkle
