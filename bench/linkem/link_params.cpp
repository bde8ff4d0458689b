#include "bench/linkem/link_params.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace arsync::linkem {

std::string invalid_reason(const LinkParams& params) {
  // The emulator keeps times in int64 nanoseconds: a day of delay is far more than any test
  // needs and far from overflowing.
  constexpr double kMaxDelayMs = 86'400'000;
  if (!std::isfinite(params.delay_ms) || params.delay_ms < 0 || params.delay_ms > kMaxDelayMs) {
    return "delay must be between 0 and 86400000 ms";
  }
  if (!std::isfinite(params.loss_percent) || params.loss_percent < 0 || params.loss_percent > 100) {
    return "loss must be between 0 and 100 percent";
  }
  // Below 1 kbit/s one full-size packet would take longer than 12 s to serialise: a typo,
  // not a link. Above 1 Tbit/s the per-packet time rounds to nothing.
  if (!std::isfinite(params.rate_mbit) || params.rate_mbit < 0 ||
      (params.rate_mbit > 0 && params.rate_mbit < 0.001) || params.rate_mbit > 1'000'000) {
    return "rate must be 0 (unlimited) or between 0.001 and 1000000 Mbit/s";
  }
  return "";
}

size_t packets_in_flight_at_full_load(const LinkParams& params, size_t mtu) {
  // Measured on the reference VM (bench/README.md): one direction forwards up to ~430k
  // packets/s without a rate limit.
  constexpr double kCeilingPacketsPerSecond = 500'000;
  const double delay_s = params.delay_ms / 1000;
  if (params.rate_mbit <= 0) return static_cast<size_t>(kCeilingPacketsPerSecond * delay_s);
  const double on_the_wire = params.rate_mbit * 1e6 / 8 / static_cast<double>(mtu) * delay_s;
  uint64_t queued = params.queue_pkts;
  if (params.queue_bytes > 0) {
    const uint64_t full_size_packets = (params.queue_bytes + mtu - 1) / mtu;
    queued = queued > 0 ? std::min(queued, full_size_packets) : full_size_packets;
  }
  return static_cast<size_t>(on_the_wire) + static_cast<size_t>(queued) + 1;
}

std::string describe(const LinkParams& params) {
  std::ostringstream out;
  out << "delay " << params.delay_ms << " ms, loss " << params.loss_percent << "%, rate ";
  if (params.rate_mbit > 0) {
    out << params.rate_mbit << " Mbit/s";
  } else {
    out << "unlimited";
  }
  out << ", queue ";
  if (params.queue_pkts == 0 && params.queue_bytes == 0) out << "unlimited";
  if (params.queue_pkts > 0) out << params.queue_pkts << " pkts";
  if (params.queue_pkts > 0 && params.queue_bytes > 0) out << " / ";
  if (params.queue_bytes > 0) out << params.queue_bytes << " bytes";
  return out.str();
}

}  // namespace arsync::linkem
