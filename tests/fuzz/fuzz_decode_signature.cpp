// libFuzzer target: decode_signature (merkle/delta_codec.h) on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "merkle/chunk_params.h"
#include "tests/fuzz/delta_fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto s = fuzz::delta_round_trip(data, size, merkle::decode_signature, merkle::encode_signature);
  if (!s) return 0;
  // ChunkParams::for_bits() would throw outside these.
  fuzz::check_delta(
      s->chunk_bits >= merkle::kMinChunkBits && s->chunk_bits <= merkle::kMaxChunkBits,
      "chunk bits out of range");
  fuzz::check_delta(s->basis_size <= merkle::kMaxDeltaFileSize, "basis size out of range");
  return 0;
}
