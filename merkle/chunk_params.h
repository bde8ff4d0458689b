// The sizes that content-defined chunking aims for. Both ends of a delta must cut with the
// same parameters or no chunk would match, so they are a function of one small number, the
// average size's exponent, which the receiver picks from its basis size and sends along
// (see docs/DELTA.md for the choice).
#pragma once

#include <cstdint>

namespace arsync::merkle {

inline constexpr unsigned kMinChunkBits = 8;   // 256-byte average: the smallest files
inline constexpr unsigned kMaxChunkBits = 18;  // 256 KiB average: files of several TiB

struct ChunkParams {
  unsigned bits = 0;      // log2 of avg_size
  uint32_t min_size = 0;  // no cut before this many bytes: they are skipped, not scanned
  uint32_t avg_size = 0;  // below this, cuts are made 4x less likely; above it, 4x more
  uint32_t max_size = 0;  // a chunk that found no cut ends here
  // Normalised chunking (FastCDC): a cut where the gear hash has these top bits all zero.
  uint64_t mask_small = 0;  // bits + 2 top bits: used from min_size up to avg_size
  uint64_t mask_large = 0;  // bits - 2 top bits: used from avg_size up to max_size

  // Parameters for an average of 2^bits bytes; bits must be within
  // [kMinChunkBits, kMaxChunkBits] (std::invalid_argument otherwise).
  static ChunkParams for_bits(unsigned bits);

  friend bool operator==(const ChunkParams& a, const ChunkParams& b) { return a.bits == b.bits; }
};

// The parameters a receiver picks for a basis of `size` bytes: an average of sqrt(size) / 4
// rounded up to a power of two, within the limits above (up to 64 MiB -> 2 KiB, up to
// 256 MiB -> 4 KiB, up to 1 GiB -> 8 KiB).
ChunkParams chunk_params_for_size(uint64_t size);

}  // namespace arsync::merkle
