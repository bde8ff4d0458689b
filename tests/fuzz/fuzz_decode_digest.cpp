// libFuzzer target: decode_digest on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto digest = fuzz::round_trip(data, size, dataplane::decode_digest, dataplane::encode_digest);
  if (!digest) return 0;
  fuzz::check(digest->id != 0, "id 0 accepted");
  return 0;
}
