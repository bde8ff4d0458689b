// libFuzzer target: decode_probe (merkle/delta_codec.h) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/delta_fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto probe = fuzz::delta_round_trip(data, size, merkle::decode_probe, merkle::encode_probe);
  if (!probe) return 0;
  fuzz::check_delta(!probe->keys.empty(), "empty probe accepted");
  fuzz::check_delta(probe->keys.size() <= merkle::kMaxProbeKeys, "too many keys");
  fuzz::check_delta(probe->keys.size() * 8 < size, "more keys than the input holds");
  return 0;
}
