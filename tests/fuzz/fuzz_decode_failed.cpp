// libFuzzer target: decode_failed and decode_content_end (the two frames that end content)
// on arbitrary bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  std::string error;
  if (auto streams = dataplane::decode_content_end({data, size}, error)) {
    fuzz::check(*streams <= dataplane::kMaxFileStreamCount, "stream count out of range");
    dataplane::Bytes again = dataplane::encode_content_end(*streams);
    fuzz::check(again.size() == size && std::equal(again.begin(), again.end(), data),
                "encode(decode(content_end)) != input");
  } else {
    fuzz::check(!error.empty(), "content_end refused without an error message");
  }
  auto failed = fuzz::round_trip(data, size, dataplane::decode_failed, dataplane::encode_failed);
  if (!failed) return 0;
  fuzz::check(failed->id != 0, "id 0 accepted");
  fuzz::check(failed->message.size() <= dataplane::kMaxMessageText, "message too long");
  return 0;
}
