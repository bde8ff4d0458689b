#include "bench/linkem/sink_meter.h"

#include <cstdio>
#include <sstream>

namespace arsync::netprobe {
namespace {

std::string mbit(uint64_t bytes, int64_t ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f",
                ns > 0 ? static_cast<double>(bytes) * 8e3 / static_cast<double>(ns) : 0.0);
  return text;
}

}  // namespace

void SinkMeter::record(int64_t now_ns, uint64_t bytes) {
  if (first_ns_ < 0) {
    // These bytes arrived at some time before now: rates count from this read on, so they
    // stay out of them.
    first_ns_ = now_ns;
    first_bytes_ = bytes;
  } else if (steady_start_ns_ >= 0) {
    steady_bytes_ += bytes;
  } else if (now_ns - first_ns_ >= warmup_ns_) {
    // These bytes arrived after the previous read: the steady span starts there.
    steady_start_ns_ = last_ns_;
    steady_bytes_ = bytes;
  }
  const auto interval = static_cast<size_t>((now_ns - first_ns_) / 1'000'000'000);
  if (interval_bytes_.size() <= interval) interval_bytes_.resize(interval + 1, 0);
  interval_bytes_[interval] += bytes;
  bytes_ += bytes;
  last_ns_ = now_ns;
}

std::string SinkMeter::report() const {
  const int64_t span = first_ns_ >= 0 ? last_ns_ - first_ns_ : 0;
  std::ostringstream out;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(span) / 1e9);
  out << "bytes=" << bytes_ << " seconds=" << seconds
      << " mbit=" << mbit(bytes_ - first_bytes_, span) << " steady_mbit="
      << (steady_start_ns_ >= 0 ? mbit(steady_bytes_, last_ns_ - steady_start_ns_) : "0.00")
      << " intervals_mbit=";
  // The last interval is partial: leave it out unless it is the only one.
  const size_t whole = interval_bytes_.size() > 1 ? interval_bytes_.size() - 1 : 1;
  for (size_t i = 0; i < whole && i < interval_bytes_.size(); ++i) {
    out << (i > 0 ? "," : "") << mbit(interval_bytes_[i], 1'000'000'000);
  }
  return out.str();
}

}  // namespace arsync::netprobe
