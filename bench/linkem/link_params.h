// What one direction of the emulated link does to the packets that cross it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace arsync::linkem {

struct LinkParams {
  double delay_ms = 0;          // one-way propagation delay
  double loss_percent = 0;      // independent random loss, applied as a packet arrives
  double rate_mbit = 0;         // bottleneck rate, counted on whole IP packets; 0 = unlimited
  uint64_t queue_pkts = 10000;  // drop-tail limit of the bottleneck queue; 0 = none
  uint64_t queue_bytes = 0;     // the same in bytes; 0 = none
};

// Why `params` cannot be emulated (negative delay, loss outside 0..100, ...), or "".
std::string invalid_reason(const LinkParams& params);

// How many packets of at most `mtu` bytes one direction holds at full load: a full queue plus
// a delay's worth of full-size packets at the rate, or without a rate limit a delay's worth at
// the emulator's own ceiling. The forwarder sizes its buffer by this at start-up.
size_t packets_in_flight_at_full_load(const LinkParams& params, size_t mtu);

// "delay 25 ms, loss 1%, rate 1000 Mbit/s, queue 10000 pkts" for logs and --help examples.
std::string describe(const LinkParams& params);

}  // namespace arsync::linkem
