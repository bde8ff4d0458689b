// libFuzzer target: decode_request on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto request = fuzz::round_trip(data, size, dataplane::decode_request, dataplane::encode_request);
  if (!request) return 0;
  fuzz::check(request->ids.size() <= dataplane::kMaxRequestIds, "too many ids");
  for (uint64_t id : request->ids) fuzz::check(id != 0, "id 0 accepted");
  return 0;
}
