#include "bench/linkem/link_model.h"

#include <algorithm>
#include <cmath>

namespace arsync::linkem {

LinkModel::LinkModel(const LinkParams& params, uint64_t seed)
    : delay_ns_(std::llround(params.delay_ms * 1e6)),
      always_lost_(params.loss_percent >= 100),
      // 2^64 * p, computed in long double so that small percentages keep their precision.
      loss_threshold_(params.loss_percent <= 0 || always_lost_
                          ? 0
                          : static_cast<uint64_t>(std::ldexp(
                                static_cast<long double>(params.loss_percent) / 100, 64))),
      rate_bps_(static_cast<uint64_t>(std::llround(params.rate_mbit * 1e6))),
      queue_pkts_(params.queue_pkts),
      queue_bytes_(params.queue_bytes),
      random_(seed) {}

bool LinkModel::lost() {
  // One draw per packet whatever the setting, so that packet N always meets the N-th number
  // of the seeded sequence.
  const uint64_t draw = random_.next();
  return always_lost_ || draw < loss_threshold_;
}

bool LinkModel::queue_full(size_t bytes) const {
  if (queue_pkts_ > 0 && backlog_.size() >= queue_pkts_) return true;
  return queue_bytes_ > 0 && backlog_bytes_ + bytes > queue_bytes_;
}

int64_t LinkModel::serialise(int64_t now_ns, size_t bytes) {
  // Picoseconds: 64 KiB at 1 kbit/s is 5.2e17 ps, well inside uint64.
  const uint64_t ps = bytes * 8 * 1'000'000'000'000ULL / rate_bps_ + carry_ps_;
  carry_ps_ = ps % 1000;
  link_free_ns_ = std::max(link_free_ns_, now_ns) + static_cast<int64_t>(ps / 1000);
  return link_free_ns_;
}

Admission LinkModel::admit(int64_t now_ns, size_t bytes) {
  while (!backlog_.empty() && backlog_.front().at_ns <= now_ns) {
    backlog_bytes_ -= backlog_.front().bytes;
    backlog_.pop_front();
  }
  if (lost()) return {Verdict::kLost, 0};
  if (rate_bps_ == 0) return {Verdict::kForward, now_ns + delay_ns_};
  if (queue_full(bytes)) return {Verdict::kQueueFull, 0};
  const int64_t departure = serialise(now_ns, bytes);
  backlog_.push_back({departure, bytes});
  backlog_bytes_ += bytes;
  return {Verdict::kForward, departure + delay_ns_};
}

}  // namespace arsync::linkem
