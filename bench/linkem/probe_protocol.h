// What arsync-netprobe's client and server say to each other.
//
// UDP (RTT and loss): the client sends datagrams of at least kProbeHeaderBytes whose first
// 16 bytes are the sequence number and the send time (CLOCK_MONOTONIC ns, both little-endian
// uint64); the server returns each datagram unchanged. Both ends are on one machine, so the
// send time needs no clock sync and is only read back by the client.
//
// TCP (throughput): the client sends an 8-byte little-endian warm-up time in ns, then data
// until it shuts its side down; the server answers with one report line (see SinkReport) and
// closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace arsync::netprobe {

constexpr size_t kProbeHeaderBytes = 16;
constexpr size_t kWarmupHeaderBytes = 8;

inline void put_u64_le(uint8_t* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

inline uint64_t get_u64_le(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{in[i]} << (8 * i);
  return value;
}

}  // namespace arsync::netprobe
