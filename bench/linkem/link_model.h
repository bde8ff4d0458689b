// The decisions of one direction of the emulated link, without any I/O: whether a packet is
// lost, whether the bottleneck queue has room for it, and when it comes out at the far end.
//
// The model is a drop-tail queue in front of a link of fixed rate, followed by a fixed
// propagation delay, as on a real path whose narrowest hop is the emulated one:
//   arrival -> random loss -> queue (limit) -> serialisation (rate) -> delay -> release.
// A packet leaves the queue when the link has finished sending every packet before it
// (departure = max(arrival, link free) + size / rate) and reaches the far end `delay` later.
// Only packets still waiting for or in serialisation count against the queue limit; packets
// already "on the wire" do not, as on a real link. Without a rate limit no queue forms, and
// the queue limits have nothing to limit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "bench/linkem/link_params.h"

namespace arsync::linkem {

enum class Verdict { kForward, kLost, kQueueFull };

struct Admission {
  Verdict verdict = Verdict::kForward;
  int64_t release_ns = 0;  // when to hand the packet to the far end (kForward only)
};

// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and the same sequence on every platform
// and standard library, so that a --seed reproduces the same losses.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

class LinkModel {
 public:
  // `params` must be valid (see invalid_reason).
  LinkModel(const LinkParams& params, uint64_t seed);

  // A packet of `bytes` (the whole IP packet) arrived at `now_ns`. Successive calls must
  // not go back in time.
  Admission admit(int64_t now_ns, size_t bytes);

  // Packets (and their bytes) waiting for or in serialisation at the last admit().
  size_t backlog_pkts() const { return backlog_.size(); }
  uint64_t backlog_bytes() const { return backlog_bytes_; }

 private:
  struct Departure {
    int64_t at_ns;
    size_t bytes;
  };
  bool lost();
  bool queue_full(size_t bytes) const;
  // The moment the link finishes sending a packet of `bytes` that arrived at `now_ns`.
  int64_t serialise(int64_t now_ns, size_t bytes);

  int64_t delay_ns_;
  bool always_lost_;
  uint64_t loss_threshold_;  // lost when the next random number is below this
  uint64_t rate_bps_;        // 0: no serialisation delay
  uint64_t queue_pkts_;
  uint64_t queue_bytes_;
  SplitMix64 random_;
  int64_t link_free_ns_ = 0;
  uint64_t carry_ps_ = 0;  // sub-nanosecond rest of the serialisation times, so rates stay exact
  std::deque<Departure> backlog_;
  uint64_t backlog_bytes_ = 0;
};

}  // namespace arsync::linkem
