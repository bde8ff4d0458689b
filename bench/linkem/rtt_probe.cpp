#include "bench/linkem/rtt_probe.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "bench/linkem/monotonic_clock.h"
#include "bench/linkem/probe_protocol.h"
#include "fsio/unique_fd.h"

namespace arsync::netprobe {
namespace {

using linkem::monotonic_ns;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string ms(double ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", ns / 1e6);
  return text;
}

}  // namespace

std::string RttResult::report() const {
  const uint64_t received = rtt_ns.size();
  char loss[32];
  std::snprintf(loss, sizeof loss, "%.2f",
                sent > 0 ? 100.0 * static_cast<double>(sent - received) / sent : 0.0);
  std::ostringstream out;
  out << "sent=" << sent << " received=" << received << " loss_pct=" << loss;
  if (received == 0) {
    out << " rtt_min_ms=- rtt_median_ms=- rtt_mean_ms=- rtt_p90_ms=- rtt_max_ms=-";
    return out.str();
  }
  std::vector<int64_t> sorted = rtt_ns;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  const double median = n % 2 == 1 ? static_cast<double>(sorted[n / 2])
                                   : (static_cast<double>(sorted[n / 2 - 1]) + sorted[n / 2]) / 2;
  const double mean =
      static_cast<double>(std::accumulate(sorted.begin(), sorted.end(), int64_t{0})) / n;
  out << " rtt_min_ms=" << ms(sorted.front()) << " rtt_median_ms=" << ms(median)
      << " rtt_mean_ms=" << ms(mean) << " rtt_p90_ms=" << ms(sorted[(n - 1) * 9 / 10])
      << " rtt_max_ms=" << ms(sorted.back());
  return out.str();
}

RttResult measure_rtt(const sockaddr_in& to, const RttPlan& plan) {
  const fsio::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) fail("socket");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    fail("connect");
  }
  std::vector<uint8_t> datagram(std::max(plan.datagram_bytes, kProbeHeaderBytes), 0);
  std::vector<uint8_t> answer(65536);
  std::vector<bool> answered(plan.count, false);
  RttResult result;

  const int64_t start = monotonic_ns();
  int64_t deadline = -1;  // set once the last probe is out
  for (;;) {
    int64_t now = monotonic_ns();
    if (result.sent < plan.count &&
        now >= start + static_cast<int64_t>(result.sent) * plan.interval_ns) {
      put_u64_le(datagram.data(), result.sent);
      put_u64_le(datagram.data() + 8, static_cast<uint64_t>(now));
      // A probe the local stack refuses (ENOBUFS) is a lost probe, like any other.
      ::send(fd.get(), datagram.data(), datagram.size(), 0);
      if (++result.sent == plan.count) deadline = now + plan.wait_ns;
      continue;
    }
    if (deadline >= 0 && (now >= deadline || result.rtt_ns.size() == plan.count)) break;
    const int64_t wake =
        deadline >= 0 ? deadline : start + static_cast<int64_t>(result.sent) * plan.interval_ns;
    const timespec timeout = linkem::to_timespec(std::max<int64_t>(wake - now, 0));
    pollfd pfd{fd.get(), POLLIN, 0};
    if (::ppoll(&pfd, 1, &timeout, nullptr) < 0 && errno != EINTR) fail("ppoll");
    for (;;) {
      const ssize_t n = ::recv(fd.get(), answer.data(), answer.size(), 0);
      now = monotonic_ns();
      if (n < 0) break;  // EAGAIN; ECONNREFUSED (no echo yet) counts as loss
      if (static_cast<size_t>(n) < kProbeHeaderBytes) continue;
      const uint64_t seq = get_u64_le(answer.data());
      if (seq >= plan.count || answered[seq]) continue;  // not ours, or a duplicate
      answered[seq] = true;
      result.rtt_ns.push_back(now - static_cast<int64_t>(get_u64_le(answer.data() + 8)));
    }
  }
  return result;
}

}  // namespace arsync::netprobe
