// CLOCK_MONOTONIC in nanoseconds: the one time base of the emulator and the probes.
#pragma once

#include <time.h>

#include <cstdint>

namespace arsync::linkem {

inline int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

inline timespec to_timespec(int64_t ns) {
  return {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace arsync::linkem
