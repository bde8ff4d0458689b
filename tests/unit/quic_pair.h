// Two ends of a QUIC connection on loopback, for tests of what runs over it.
#pragma once

#include <chrono>
#include <future>
#include <memory>

#include "dataplane/quic_connection.h"
#include "dataplane/quic_listener.h"

namespace arsync::dataplane {

struct Pair {
  std::unique_ptr<QuicListener> listener;
  std::unique_ptr<QuicConnection> client;
  std::unique_ptr<QuicConnection> server;
};

inline Pair connect_pair(const QuicOptions& options = {}) {
  Pair pair;
  PskKey key = generate_psk_key();
  pair.listener = std::make_unique<QuicListener>("127.0.0.1", PortRange{0, 0}, key, options);
  auto accepted = std::async(std::launch::async,
                             [&] { return pair.listener->accept(std::chrono::seconds(10)); });
  pair.client = QuicConnection::connect("127.0.0.1", pair.listener->port(), key, options);
  pair.server = accepted.get();
  return pair;
}

}  // namespace arsync::dataplane
