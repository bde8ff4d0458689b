#include "bench/linkem/ipv4_endpoint.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace arsync::netprobe {

sockaddr_in ipv4_endpoint(const std::string& address, uint16_t port) {
  sockaddr_in out{};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &out.sin_addr) != 1) {
    throw std::invalid_argument("not an IPv4 address: '" + address + "'");
  }
  return out;
}

}  // namespace arsync::netprobe
