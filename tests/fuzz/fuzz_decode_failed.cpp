// libFuzzer target: decode_failed on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto failed = fuzz::round_trip(data, size, dataplane::decode_failed, dataplane::encode_failed);
  if (!failed) return 0;
  fuzz::check(failed->id != 0, "id 0 accepted");
  fuzz::check(failed->message.size() <= dataplane::kMaxMessageText, "message too long");
  return 0;
}
