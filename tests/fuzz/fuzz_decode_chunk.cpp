// libFuzzer target: decode_chunk on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto chunk = fuzz::round_trip(data, size, dataplane::decode_chunk, dataplane::encode_chunk);
  if (!chunk) return 0;
  fuzz::check(chunk->id != 0, "id 0 accepted");
  fuzz::check(chunk->data.size() <= dataplane::kMaxChunkData, "data too long");
  fuzz::check(chunk->data.size() <= size, "more data than input");
  fuzz::check(chunk->last || chunk->digest == fsio::Digest128{}, "digest on a non-last chunk");
  return 0;
}
