// arsync-netprobe's server: a UDP echo and a TCP sink on one address and port, in one thread.
// It runs until killed (SIGTERM); nothing in it needs cleaning up.
#pragma once

#include <cstdint>
#include <string>

namespace arsync::netprobe {

// Binds both sockets, prints "ready" to stdout, then serves forever. Throws
// std::runtime_error if a socket cannot be set up.
[[noreturn]] void serve(const std::string& address, uint16_t port);

}  // namespace arsync::netprobe
