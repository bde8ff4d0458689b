// An IPv4 address and port, as the probe's command line gives them.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace arsync::netprobe {

// "10.77.0.2" and 7000 -> sockaddr_in. Throws std::invalid_argument for anything but a
// dotted-quad IPv4 address.
sockaddr_in ipv4_endpoint(const std::string& address, uint16_t port);

}  // namespace arsync::netprobe
