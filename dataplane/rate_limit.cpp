#include "dataplane/rate_limit.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>

namespace arsync::dataplane {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<double> unit_of(std::string_view suffix) {
  if (suffix.empty()) return 1024.0;
  if (iequals(suffix, "b")) return 1.0;
  constexpr std::string_view kLetters = "kmg";
  const char first = static_cast<char>(std::tolower(static_cast<unsigned char>(suffix[0])));
  const size_t power = kLetters.find(first);
  if (power == std::string_view::npos) return std::nullopt;
  const std::string_view rest = suffix.substr(1);
  const int exponent = static_cast<int>(power) + 1;
  if (rest.empty() || iequals(rest, "ib")) return std::pow(1024.0, exponent);
  if (iequals(rest, "b")) return std::pow(1000.0, exponent);
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> parse_bwlimit(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
    ++digits;
  if (digits == 0 || digits > 32) return std::nullopt;
  double number = 0;
  const std::string numeral(text.substr(0, digits));
  auto [end, error] = std::from_chars(numeral.data(), numeral.data() + numeral.size(), number);
  if (error != std::errc() || end != numeral.data() + numeral.size()) return std::nullopt;
  const std::optional<double> unit = unit_of(text.substr(digits));
  if (!unit) return std::nullopt;
  const double rate = std::round(number * *unit);
  if (rate == 0) return 0;
  if (rate < static_cast<double>(kMinRate) || rate > static_cast<double>(kMaxRate))
    return std::nullopt;
  return static_cast<uint64_t>(rate);
}

TokenBucket::TokenBucket(uint64_t rate, uint64_t now_ns)
    : rate_(std::max<uint64_t>(rate, 1)),
      // 20 ms of the rate, at least a few packets' worth and at most 1 MiB.
      burst_(std::clamp(static_cast<double>(rate_) / 50, 4096.0, 1048576.0)),
      // 4 ms of the rate, within the same bounds as the burst.
      quantum_(std::clamp(static_cast<double>(rate_) / 250, 1500.0, burst_)),
      tokens_(burst_),
      refilled_at_(now_ns) {}

void TokenBucket::refill(uint64_t now_ns) {
  if (now_ns <= refilled_at_) return;
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - refilled_at_) *
                                           static_cast<double>(rate_) / 1e9);
  refilled_at_ = now_ns;
}

bool TokenBucket::ready(uint64_t now_ns) {
  refill(now_ns);
  if (waiting_ && tokens_ >= quantum_) waiting_ = false;
  if (!waiting_ && tokens_ <= 0) waiting_ = true;
  return !waiting_;
}

uint64_t TokenBucket::ready_at() const {
  if (!waiting_) return UINT64_MAX;
  if (tokens_ >= quantum_) return refilled_at_;
  const double missing = quantum_ - tokens_;
  return refilled_at_ +
         static_cast<uint64_t>(std::ceil(missing * 1e9 / static_cast<double>(rate_)));
}

namespace {

uint64_t steady_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

RateLimitedStream::RateLimitedStream(control::ByteStream& inner, uint64_t rate) : inner_(inner) {
  set_rate(rate);
}

void RateLimitedStream::set_rate(uint64_t rate) {
  std::lock_guard lock(mutex_);
  if (rate == 0) {
    bucket_.reset();
  } else {
    bucket_.emplace(rate, steady_ns());
  }
}

void RateLimitedStream::write_all(const void* buf, size_t n) {
  const auto* bytes = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    size_t piece = n;
    {
      std::unique_lock lock(mutex_);
      if (bucket_) {
        // 20 ms of the rate at a time, so that the pacing is smooth at any rate.
        piece = std::min<size_t>(n, std::clamp<uint64_t>(bucket_->rate() / 50, 1024, 256 << 10));
        while (!bucket_->ready(steady_ns())) {
          const uint64_t at = bucket_->ready_at();
          lock.unlock();
          const uint64_t now = steady_ns();
          if (at > now) std::this_thread::sleep_for(std::chrono::nanoseconds(at - now));
          lock.lock();
          if (!bucket_) break;
        }
        if (bucket_) bucket_->spend(piece);
      }
    }
    inner_.write_all(bytes, piece);
    bytes += piece;
    n -= piece;
  }
}

}  // namespace arsync::dataplane
