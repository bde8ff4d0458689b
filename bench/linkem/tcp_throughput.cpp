#include "bench/linkem/tcp_throughput.h"

#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/linkem/monotonic_clock.h"
#include "bench/linkem/probe_protocol.h"
#include "fsio/unique_fd.h"

namespace arsync::netprobe {
namespace {

using linkem::monotonic_ns;

constexpr size_t kWriteBytes = 128 * 1024;
constexpr int64_t kReportTimeoutNs = 30'000'000'000;  // the sink drains the queue first

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Waits for `events` on `fd` until `deadline_ns`; false on time-out.
bool wait_for(int fd, short events, int64_t deadline_ns) {
  for (;;) {
    const int64_t left = deadline_ns - monotonic_ns();
    if (left <= 0) return false;
    const timespec timeout = linkem::to_timespec(left);
    pollfd pfd{fd, events, 0};
    const int ready = ::ppoll(&pfd, 1, &timeout, nullptr);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) fail("ppoll");
  }
}

std::string sender_tcp_info(int fd) {
  char congestion[32] = {};
  socklen_t len = sizeof congestion - 1;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, congestion, &len) != 0) {
    std::strcpy(congestion, "?");
  }
  tcp_info info{};
  len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) fail("TCP_INFO");
  char text[128];
  std::snprintf(text, sizeof text, " cc=%s retrans=%u rtt_ms=%.3f", congestion,
                info.tcpi_total_retrans, info.tcpi_rtt / 1000.0);
  return text;
}

}  // namespace

std::string measure_throughput(const sockaddr_in& to, const ThroughputPlan& plan) {
  const fsio::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket");
  if (!plan.congestion.empty() &&
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_CONGESTION, plan.congestion.data(),
                   plan.congestion.size()) != 0) {
    fail("TCP_CONGESTION " + plan.congestion);
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    fail("connect");
  }
  std::vector<uint8_t> data(kWriteBytes, 0);
  put_u64_le(data.data(), static_cast<uint64_t>(plan.warmup_ns));
  size_t offset = 0;  // the first write starts with the header
  size_t end = kWarmupHeaderBytes;
  const int64_t stop = monotonic_ns() + plan.duration_ns;
  // Non-blocking writes against the deadline: a blocking write could sit for a whole send
  // buffer (megabytes) past it on a slow link.
  while (wait_for(fd.get(), POLLOUT, stop)) {
    // MSG_NOSIGNAL: a sink that went away is an error to report, not a SIGPIPE.
    const ssize_t n =
        ::send(fd.get(), data.data() + offset, end - offset, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail("send");
    }
    offset += static_cast<size_t>(n);
    if (offset == end) {
      offset = 0;
      end = kWriteBytes;
    }
  }
  const std::string info = sender_tcp_info(fd.get());
  if (::shutdown(fd.get(), SHUT_WR) != 0) fail("shutdown");

  std::string report;
  char buffer[4096];
  const int64_t give_up = monotonic_ns() + kReportTimeoutNs;
  for (;;) {
    if (!wait_for(fd.get(), POLLIN, give_up)) throw std::runtime_error("no report from the sink");
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("reading the report");
    }
    if (n == 0) break;
    report.append(buffer, static_cast<size_t>(n));
  }
  while (!report.empty() && report.back() == '\n') report.pop_back();
  if (report.empty() || report.rfind("bytes=", 0) != 0) {
    throw std::runtime_error("bad report from the sink: '" + report + "'");
  }
  return report + info;
}

}  // namespace arsync::netprobe
