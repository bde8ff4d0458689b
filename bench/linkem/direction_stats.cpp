#include "bench/linkem/direction_stats.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace arsync::linkem {

void DirectionStats::count_forwarded(size_t bytes, int64_t error_ns) {
  bump(forwarded_);
  bump(forwarded_bytes_, uint64_t{bytes});
  bump(error_sum_ns_, error_ns);
  if (error_ns < error_min_ns_.load(std::memory_order_relaxed)) {
    error_min_ns_.store(error_ns, std::memory_order_relaxed);
  }
  if (error_ns > error_max_ns_.load(std::memory_order_relaxed)) {
    error_max_ns_.store(error_ns, std::memory_order_relaxed);
  }
  const int64_t bucket = (error_ns - kLowestNs) / kBucketNs;
  bump(error_buckets_[std::clamp<int64_t>(bucket, 0, kBuckets - 1)], uint64_t{1});
}

std::string DirectionStats::error_quantile_us(double q) const {
  uint64_t total = 0;
  for (const auto& bucket : error_buckets_) total += bucket.load(std::memory_order_relaxed);
  if (total == 0) return "-";
  const double wanted = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += error_buckets_[i].load(std::memory_order_relaxed);
    if (static_cast<double>(seen) >= wanted) {
      const int64_t low = (kLowestNs + static_cast<int64_t>(i) * kBucketNs) / 1000;
      const int64_t high = low + kBucketNs / 1000;
      if (i == 0) return "<" + std::to_string(high);
      if (i == kBuckets - 1) return ">=" + std::to_string(low);
      return "[" + std::to_string(low) + "," + std::to_string(high) + ")";
    }
  }
  return "-";
}

std::string DirectionStats::report(const std::string& direction) const {
  const uint64_t forwarded = this->forwarded();
  auto us = [](double ns) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", ns / 1000);
    return std::string(text);
  };
  std::ostringstream out;
  out << direction << ": received " << received() << ", forwarded " << forwarded << " ("
      << forwarded_bytes_.load(std::memory_order_relaxed) << " bytes), lost " << lost()
      << ", queue drops " << queue_drops() << ", oversize "
      << oversize_.load(std::memory_order_relaxed) << ", write errors "
      << write_errors_.load(std::memory_order_relaxed) << "; release error us (+ late, - early):";
  if (forwarded == 0) {
    out << " -";
    return out.str();
  }
  out << " mean "
      << us(static_cast<double>(error_sum_ns_.load(std::memory_order_relaxed)) /
            static_cast<double>(forwarded))
      << ", p1 " << error_quantile_us(0.01) << ", p50 " << error_quantile_us(0.5) << ", p99 "
      << error_quantile_us(0.99) << ", p99.9 " << error_quantile_us(0.999) << ", min "
      << us(static_cast<double>(error_min_ns_.load(std::memory_order_relaxed))) << ", max "
      << us(static_cast<double>(error_max_ns_.load(std::memory_order_relaxed)));
  return out.str();
}

}  // namespace arsync::linkem
