// One TCP stream to arsync-netprobe's sink for a fixed time: the receiver measures what
// arrived (SinkMeter) and sends it back, the sender adds its own TCP_INFO.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace arsync::netprobe {

struct ThroughputPlan {
  int64_t duration_ns = 4'000'000'000;
  int64_t warmup_ns = 1'000'000'000;  // left out of the receiver's steady_mbit
  std::string congestion;             // TCP_CONGESTION for this socket; "" = the route's/default
};

// Returns the receiver's report followed by " cc=NAME retrans=N rtt_ms=R" from the sender's
// TCP_INFO at the end. Throws std::runtime_error on a failed connection or no report.
std::string measure_throughput(const sockaddr_in& to, const ThroughputPlan& plan);

}  // namespace arsync::netprobe
