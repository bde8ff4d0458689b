// The gear hash's table: one pseudo-random 64-bit value per byte value. It is part of the
// chunk format (it decides where every cut falls), so it is fixed: splitmix64 from a constant
// seed, computed at compile time. Changing it means a new delta codec version.
#pragma once

#include <array>
#include <cstdint>

namespace arsync::merkle {

inline constexpr std::array<uint64_t, 256> kGearTable = [] {
  std::array<uint64_t, 256> table{};
  uint64_t state = 0x6172'7379'6e63'6765;  // "arsyncge"
  for (uint64_t& entry : table) {
    state += 0x9e37'79b9'7f4a'7c15;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9;
    z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11eb;
    entry = z ^ (z >> 31);
  }
  return table;
}();

}  // namespace arsync::merkle
