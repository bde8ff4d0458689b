// Round-trip time and loss over UDP against arsync-netprobe's echo: what `ping -i` would
// measure, without ICMP (and without iputils, which this machine lacks).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace arsync::netprobe {

struct RttPlan {
  uint64_t count = 100;
  int64_t interval_ns = 10'000'000;
  size_t datagram_bytes = 64;       // UDP payload, at least kProbeHeaderBytes
  int64_t wait_ns = 1'000'000'000;  // for late answers after the last probe
};

struct RttResult {
  uint64_t sent = 0;
  std::vector<int64_t> rtt_ns;  // one per answered probe, in arrival order

  // "sent=N received=N loss_pct=P rtt_min_ms=... rtt_median_ms=... rtt_mean_ms=...
  // rtt_p90_ms=... rtt_max_ms=..." (the rtt fields are "-" when nothing came back).
  std::string report() const;
};

// Sends plan.count probes to `to`, one every plan.interval_ns, and collects the answers.
// Throws std::runtime_error if the socket fails.
RttResult measure_rtt(const sockaddr_in& to, const RttPlan& plan);

}  // namespace arsync::netprobe
