#include "bench/linkem/probe_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <list>
#include <optional>
#include <stdexcept>
#include <vector>

#include "bench/linkem/ipv4_endpoint.h"
#include "bench/linkem/monotonic_clock.h"
#include "bench/linkem/probe_protocol.h"
#include "bench/linkem/sink_meter.h"
#include "fsio/unique_fd.h"

namespace arsync::netprobe {
namespace {

using fsio::UniqueFd;
using linkem::monotonic_ns;

constexpr size_t kReadBytes = 256 * 1024;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

UniqueFd bound_socket(int type, const sockaddr_in& at) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket");
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) != 0) fail("bind");
  return fd;
}

struct SinkConnection {
  UniqueFd fd;
  uint8_t header[kWarmupHeaderBytes] = {};
  size_t header_bytes = 0;
  std::optional<SinkMeter> meter;  // once the header is in
};

void echo_datagrams(int fd, std::vector<uint8_t>& buffer) {
  for (;;) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN: all answered
    ::sendto(fd, buffer.data(), static_cast<size_t>(n), MSG_DONTWAIT,
             reinterpret_cast<const sockaddr*>(&from), from_len);
  }
}

// Reads what `c` has; false once the connection is over (the report has been sent back).
bool serve_sink(SinkConnection& c, std::vector<uint8_t>& buffer) {
  const ssize_t n = ::read(c.fd.get(), buffer.data(), buffer.size());
  const int64_t now = monotonic_ns();
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) {
    // The sender shut its side down: answer with the measurement and close.
    const std::string line = (c.meter ? c.meter->report() : "error=no-header") + "\n";
    // MSG_NOSIGNAL: a sender that went away must not take the server down with SIGPIPE.
    if (::send(c.fd.get(), line.data(), line.size(), MSG_NOSIGNAL) < 0) {
      std::fprintf(stderr, "arsync-netprobe: sending the report: %s\n", std::strerror(errno));
    }
    return false;
  }
  size_t used = 0;
  while (!c.meter && used < static_cast<size_t>(n)) {
    c.header[c.header_bytes++] = buffer[used++];
    if (c.header_bytes == kWarmupHeaderBytes) {
      c.meter.emplace(static_cast<int64_t>(get_u64_le(c.header)));
    }
  }
  if (c.meter && used < static_cast<size_t>(n)) c.meter->record(now, n - used);
  return true;
}

}  // namespace

void serve(const std::string& address, uint16_t port) {
  const sockaddr_in at = ipv4_endpoint(address, port);
  const UniqueFd udp = bound_socket(SOCK_DGRAM, at);
  const UniqueFd listener = bound_socket(SOCK_STREAM, at);
  if (::listen(listener.get(), 16) != 0) fail("listen");
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<uint8_t> buffer(kReadBytes);
  std::list<SinkConnection> connections;
  std::vector<pollfd> fds;
  for (;;) {
    fds.assign({{udp.get(), POLLIN, 0}, {listener.get(), POLLIN, 0}});
    for (const SinkConnection& c : connections) fds.push_back({c.fd.get(), POLLIN, 0});
    // No timeout: every event here is a packet or a connection.
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    if (fds[0].revents != 0) echo_datagrams(udp.get(), buffer);
    auto c = connections.begin();
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && !serve_sink(*c, buffer)) {
        c = connections.erase(c);
      } else {
        ++c;
      }
    }
    if (fds[1].revents != 0) {
      UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (accepted) {
        connections.emplace_back();
        connections.back().fd = std::move(accepted);
      }
    }
  }
}

}  // namespace arsync::netprobe
