#include "merkle/recipe_applier.h"

#include <cerrno>
#include <cstring>

namespace arsync::merkle {

RecipeApplier::RecipeApplier(int out_fd, std::vector<int> sources)
    : writer_(out_fd, std::move(sources), [this](std::span<const uint8_t> bytes) {
        digest_.update(bytes.data(), bytes.size());
      }) {}

RecipeApplier::RecipeApplier(int out_fd, std::vector<int> sources, bool in_place)
    : RecipeApplier(out_fd, std::move(sources)) {
  in_place_ = in_place;
  writer_.set_in_place(in_place);
}

bool RecipeApplier::apply(const RecipePart& part, std::string& error) {
  if (have_last_) {
    error = "recipe: part after the last";
    return false;
  }
  for (size_t i = 0; i < part.ops.size(); ++i) {
    const RecipeOp& op = part.ops[i];
    int err = 0;
    if (op.kind == RecipeOp::Kind::copy && in_place_ && op.file == 0 &&
        op.offset < writer_.written()) {
      error = "recipe: op " + std::to_string(i) +
              ": copies from a part of the basis already overwritten in place";
      return false;
    } else if (op.kind == RecipeOp::Kind::copy) {
      err = writer_.copy(op.file, op.offset, op.length);
    } else if (op.offset > part.literals.size() || op.length > part.literals.size() - op.offset) {
      error = "recipe: op " + std::to_string(i) + " outside the part's literal bytes";
      return false;
    } else {
      err = writer_.literal({part.literals.data() + op.offset, static_cast<size_t>(op.length)});
    }
    if (err) {
      error = "recipe: op " + std::to_string(i) + ": " +
              (err == ENODATA ? std::string("copies past the end of its source")
                              : std::string(std::strerror(err)));
      return false;
    }
  }
  if (part.last) {
    have_last_ = true;
    total_size_ = part.total_size;
    expected_ = part.digest;
  }
  return true;
}

bool RecipeApplier::finish(std::string& error) {
  if (!have_last_) {
    error = "recipe: ended before its last part";
    return false;
  }
  if (writer_.written() != total_size_) {
    error = "recipe: built " + std::to_string(writer_.written()) + " bytes, expected " +
            std::to_string(total_size_);
    return false;
  }
  if (digest_.finish() != expected_) {
    error = "recipe: the result's XXH3-128 does not match the sender's";
    return false;
  }
  return true;
}

bool apply_recipe(std::span<const RecipePart> parts, std::vector<int> sources, int out_fd,
                  std::string& error) {
  RecipeApplier applier(out_fd, std::move(sources));
  for (const RecipePart& part : parts) {
    if (!applier.apply(part, error)) return false;
  }
  return applier.finish(error);
}

}  // namespace arsync::merkle
