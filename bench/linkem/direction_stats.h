// What happened to the packets of one direction, and how close to their release time they
// went out. One forwarding thread writes, any thread may read (a SIGUSR1 report while the link
// runs): single-writer relaxed atomics, so that counting costs no locked instruction.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace arsync::linkem {

class DirectionStats {
 public:
  void count_received() { bump(received_); }
  void count_lost() { bump(lost_); }
  void count_queue_drop() { bump(queue_drops_); }
  void count_oversize() { bump(oversize_); }
  void count_write_error() { bump(write_errors_); }
  // A packet went out `error_ns` after its release time (negative: before it).
  void count_forwarded(size_t bytes, int64_t error_ns);

  uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }
  uint64_t lost() const { return lost_.load(std::memory_order_relaxed); }
  uint64_t queue_drops() const { return queue_drops_.load(std::memory_order_relaxed); }

  // One line: "a->b: received N, forwarded N (B bytes), lost N, queue drops N, ...;
  // release error us: mean M, p1 [lo,hi), p50 [lo,hi), ..., min m, max M".
  std::string report(const std::string& direction) const;

 private:
  // Release error histogram: 10 us buckets from 200 us early to 2 ms late; the first and the
  // last bucket also hold everything beyond.
  static constexpr int64_t kBucketNs = 10'000;
  static constexpr int64_t kLowestNs = -200'000;
  static constexpr size_t kBuckets = 220;

  template <typename T>
  static void bump(std::atomic<T>& counter, T by = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  // "[lo,hi)" in us: the bucket holding the q-quantile of the release error; "-" if none.
  std::string error_quantile_us(double q) const;

  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> forwarded_bytes_{0};
  std::atomic<uint64_t> lost_{0};
  std::atomic<uint64_t> queue_drops_{0};
  std::atomic<uint64_t> oversize_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<int64_t> error_sum_ns_{0};
  std::atomic<int64_t> error_min_ns_{INT64_MAX};
  std::atomic<int64_t> error_max_ns_{INT64_MIN};
  std::array<std::atomic<uint64_t>, kBuckets> error_buckets_{};
};

}  // namespace arsync::linkem
