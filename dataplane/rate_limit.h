// --bwlimit: rsync's RATE syntax, and the token bucket that paces a sender to it (the QUIC
// sender in QuicSession, the SSH fallback in RateLimitedStream).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string_view>

#include "control/byte_stream.h"

namespace arsync::dataplane {

// rsync's --bwlimit RATE in bytes per second: a number (a fraction allowed) with an optional
// suffix: none or K = 1024 bytes (rsync's default unit), M = 1024^2, G = 1024^3, B = bytes;
// KB, MB, GB = powers of 1000; KiB, MiB, GiB = powers of 1024 (any letter case). 0 means no
// limit. nullopt for anything else, or for a limit below kMinRate.
std::optional<uint64_t> parse_bwlimit(std::string_view text);

// rsync refuses a limit below 512 bytes per second (other than 0) too.
inline constexpr uint64_t kMinRate = 512;
// Beyond this (1 PiB/s) a limit means nothing; the protocol refuses larger values.
inline constexpr uint64_t kMaxRate = uint64_t{1} << 50;

// Bytes may go while the bucket holds tokens; what is sent is taken out afterwards, so one
// packet or write may overdraw it. An overdrawn bucket waits until it has refilled `quantum`
// bytes (a few milliseconds of the rate), so that a paced sender wakes once per batch, not
// once per packet. Time is in nanoseconds of any monotonic clock.
class TokenBucket {
 public:
  TokenBucket(uint64_t rate, uint64_t now_ns);

  uint64_t rate() const { return rate_; }
  // Refills for the time since the last call; true when bytes may go now.
  bool ready(uint64_t now_ns);
  void spend(uint64_t bytes) { tokens_ -= static_cast<double>(bytes); }
  // When ready() will say true again after it said false; UINT64_MAX when it did not.
  uint64_t ready_at() const;

 private:
  void refill(uint64_t now_ns);

  uint64_t rate_;
  double burst_;    // the most the bucket holds: what may go at once after a pause
  double quantum_;  // an overdrawn bucket waits until it holds this much again
  double tokens_;
  uint64_t refilled_at_;
  bool waiting_ = false;
};

// --bwlimit over the SSH channel: writes go out in pieces paced by a TokenBucket (reads pass
// through). Rate 0 passes writes through too. One thread writes (the FrameWriter's); the
// rate may be set from another.
class RateLimitedStream final : public control::ByteStream {
 public:
  explicit RateLimitedStream(control::ByteStream& inner, uint64_t rate = 0);
  void set_rate(uint64_t rate);

  size_t read_some(void* buf, size_t n) override { return inner_.read_some(buf, n); }
  void write_all(const void* buf, size_t n) override;
  void close_write() override { inner_.close_write(); }

 private:
  control::ByteStream& inner_;
  std::mutex mutex_;
  std::optional<TokenBucket> bucket_;
};

}  // namespace arsync::dataplane
