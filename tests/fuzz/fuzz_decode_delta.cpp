// libFuzzer target: decode_delta (the envelope of the delta frames) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto delta = fuzz::round_trip(data, size, dataplane::decode_delta, dataplane::encode_delta);
  if (!delta) return 0;
  fuzz::check(delta->id != 0, "id 0 accepted");
  fuzz::check(!delta->message.empty(), "empty message accepted");
  fuzz::check(delta->message.size() <= dataplane::kMaxDeltaMessage, "message too long");
  return 0;
}
