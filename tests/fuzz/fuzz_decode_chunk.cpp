// libFuzzer target: decode_chunk on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  // decode_chunk also has an overload that takes over a buffer: name the one on bytes.
  auto decode = [](std::span<const uint8_t> in, std::string& error) {
    return dataplane::decode_chunk(in, error);
  };
  auto chunk = fuzz::round_trip(data, size, decode, dataplane::encode_chunk);
  if (!chunk) return 0;
  fuzz::check(chunk->id != 0, "id 0 accepted");
  fuzz::check(chunk->data.size() <= dataplane::kMaxChunkData, "data too long");
  fuzz::check(chunk->data.size() <= size, "more data than input");
  fuzz::check(chunk->last || chunk->digest == fsio::Digest128{}, "digest on a non-last chunk");
  return 0;
}
