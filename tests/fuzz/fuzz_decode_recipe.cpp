// libFuzzer target: decode_recipe_part (merkle/delta_codec.h) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/delta_fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto part =
      fuzz::delta_round_trip(data, size, merkle::decode_recipe_part, merkle::encode_recipe_part);
  if (!part) return 0;
  // What the applier relies on.
  fuzz::check_delta(part->last || !part->ops.empty(), "empty part that is not the last");
  fuzz::check_delta(part->ops.size() <= merkle::kMaxRecipeOps, "too many ops");
  fuzz::check_delta(part->literals.size() <= merkle::kMaxRecipeLiteral, "too many literal bytes");
  fuzz::check_delta(part->literals.size() <= size, "more literal bytes than input");
  fuzz::check_delta(part->total_size <= merkle::kMaxDeltaFileSize, "total size out of range");
  uint64_t literal_end = 0;
  for (const merkle::RecipeOp& op : part->ops) {
    fuzz::check_delta(op.length > 0, "empty op");
    if (op.kind == merkle::RecipeOp::Kind::literal) {
      fuzz::check_delta(op.file == 0, "literal from a file");
      fuzz::check_delta(op.offset == literal_end, "literal ops out of order");
      literal_end += op.length;
    } else {
      fuzz::check_delta(op.offset <= merkle::kMaxDeltaFileSize &&
                            op.length <= merkle::kMaxDeltaFileSize - op.offset,
                        "copy out of range");
      fuzz::check_delta(op.file <= merkle::kMaxSourceFile, "file id out of range");
    }
  }
  fuzz::check_delta(literal_end == part->literals.size(), "literal bytes without an op");
  return 0;
}
