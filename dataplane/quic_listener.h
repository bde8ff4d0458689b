// The server end of the data plane: binds a UDP port and accepts exactly one QUIC
// connection, from the first client that completes the handshake with the session key.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/quic_connection.h"
#include "dataplane/quic_options.h"
#include "dataplane/quic_psk.h"
#include "dataplane/socket_address.h"
#include "dataplane/udp_socket.h"

namespace arsync::dataplane {

class QuicListener {
 public:
  // Binds UDP on `address` (a numeric IPv4 or IPv6 address, "0.0.0.0" or "::" for all) on
  // the first free port of `ports` ({0, 0}: an ephemeral port). Throws QuicError.
  QuicListener(const std::string& address, PortRange ports, const PskKey& key,
               const QuicOptions& options = {});

  // The bound port, for the quic_ready answer.
  uint16_t port() const { return local_.port(); }
  const SocketAddress& local_address() const { return local_; }

  // Waits for the one client that completes the handshake with the key, and returns the
  // connection; the socket then hears that client only. Handshakes with another key fail
  // within milliseconds and are forgotten; datagrams that are not QUIC are ignored. Throws
  // QuicHandshakeError if no client made it within `timeout`. May be called only once.
  std::unique_ptr<QuicConnection> accept(std::chrono::milliseconds timeout);

 private:
  PskKey key_;
  QuicOptions options_;
  UdpSocket socket_;
  SocketAddress local_;
};

}  // namespace arsync::dataplane
