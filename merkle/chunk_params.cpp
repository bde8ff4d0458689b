#include "merkle/chunk_params.h"

#include <algorithm>
#include <bit>
#include <stdexcept>
#include <string>

namespace arsync::merkle {
namespace {

constexpr uint64_t top_bits(unsigned n) {
  return n == 0 ? 0 : ~uint64_t{0} << (64 - n);
}

}  // namespace

ChunkParams ChunkParams::for_bits(unsigned bits) {
  if (bits < kMinChunkBits || bits > kMaxChunkBits) {
    throw std::invalid_argument("chunk size exponent " + std::to_string(bits) + " outside [" +
                                std::to_string(kMinChunkBits) + ", " +
                                std::to_string(kMaxChunkBits) + "]");
  }
  ChunkParams p;
  p.bits = bits;
  p.avg_size = uint32_t{1} << bits;
  p.min_size = p.avg_size / 4;
  p.max_size = p.avg_size * 4;
  p.mask_small = top_bits(bits + 2);
  p.mask_large = top_bits(bits - 2);
  return p;
}

ChunkParams chunk_params_for_size(uint64_t size) {
  // ceil(log2(sqrt(size) / 4)) = ceil(ceil(log2(size)) / 2) - 2.
  const unsigned log2_size = size < 2 ? 0 : static_cast<unsigned>(std::bit_width(size - 1));
  const int bits = static_cast<int>((log2_size + 1) / 2) - 2;
  return ChunkParams::for_bits(static_cast<unsigned>(
      std::clamp(bits, static_cast<int>(kMinChunkBits), static_cast<int>(kMaxChunkBits))));
}

}  // namespace arsync::merkle
