// ngtcp2 measures time in nanoseconds on a monotonic clock.
#pragma once

#include <time.h>

#include <cstdint>

namespace arsync::dataplane {

using QuicTimestamp = uint64_t;

inline QuicTimestamp quic_now() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(now.tv_nsec);
}

}  // namespace arsync::dataplane
