// An IPv4 or IPv6 socket address, and the UDP port ranges the helper may bind.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arsync::dataplane {

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* address, socklen_t size);

  // A numeric IPv4 or IPv6 address ("192.0.2.1", "::1", "[::1]"), or nullopt.
  static std::optional<SocketAddress> parse_numeric(std::string_view host, uint16_t port);
  // A numeric address or a host name (first answer of getaddrinfo). Throws QuicError.
  static SocketAddress resolve(const std::string& host, uint16_t port);

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const { return size_; }
  // Room for any address, for recvmsg/getsockname to fill in; then set_size().
  static constexpr socklen_t capacity() { return sizeof(sockaddr_storage); }
  void set_size(socklen_t size) { size_ = size; }

  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  void set_port(uint16_t port);
  bool empty() const { return size_ == 0; }
  // "192.0.2.1:4433" or "[2001:db8::1]:4433".
  std::string to_string() const;

  // Same family, address and port (scope id for IPv6 too).
  friend bool operator==(const SocketAddress& a, const SocketAddress& b);

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// "N" or "N-M" with N <= M; port 0 alone means "any free port".
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
};
std::optional<PortRange> parse_port_range(std::string_view text);

}  // namespace arsync::dataplane
