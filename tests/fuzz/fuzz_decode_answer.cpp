// libFuzzer target: decode_answer (merkle/delta_codec.h) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/delta_fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto answer = fuzz::delta_round_trip(data, size, merkle::decode_answer, merkle::encode_answer);
  if (!answer) return 0;
  fuzz::check_delta(!answer->found.empty(), "empty answer accepted");
  fuzz::check_delta(answer->found.size() <= merkle::kMaxProbeKeys, "too many entries");
  for (const auto& at : answer->found) {
    if (!at) continue;
    fuzz::check_delta(at->offset <= merkle::kMaxDeltaFileSize, "offset out of range");
    fuzz::check_delta(at->file <= merkle::kMaxSourceFile, "file id out of range");
  }
  return 0;
}
