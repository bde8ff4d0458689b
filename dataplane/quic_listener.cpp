#include "dataplane/quic_listener.h"

#include <poll.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "dataplane/quic_clock.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_session.h"

namespace arsync::dataplane {

namespace {

// Handshakes in progress at once. A stranger's Initial costs a session each; beyond this,
// new ones are ignored until the pending ones finish (each within the handshake timeout).
constexpr size_t kMaxPendingHandshakes = 16;
constexpr int kMaxReceivesPerTurn = 64;
// Told to a client whose handshake lost the race to another one.
constexpr uint64_t kConnectionRefused = 2;

}  // namespace

QuicListener::QuicListener(const std::string& address, PortRange ports, const PskKey& key,
                           const QuicOptions& options)
    : key_(key), options_(options) {
  validate(options);
  auto at = SocketAddress::parse_numeric(address, 0);
  if (!at) throw QuicError("not a numeric IP address: " + address);
  socket_ = UdpSocket::bind(*at, ports, options);
  local_ = socket_.local_address();
}

std::unique_ptr<QuicConnection> QuicListener::accept(std::chrono::milliseconds timeout) {
  if (!socket_) throw std::logic_error("QuicListener::accept: a connection was already accepted");
  const QuicTimestamp deadline =
      quic_now() + static_cast<QuicTimestamp>(
                       std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
  std::vector<std::unique_ptr<QuicSession>> pending;
  std::string last_failure;
  ReceiveBuffer buffer;

  auto route = [&](const SocketAddress& from, std::span<const uint8_t> datagram,
                   QuicTimestamp now) {
    auto it = std::find_if(pending.begin(), pending.end(),
                           [&](const auto& session) { return session->remote() == from; });
    if (it != pending.end()) {
      (*it)->receive(datagram, now);
      return;
    }
    // Only a client's first Initial (long header, at least 1200 bytes) starts a handshake.
    ngtcp2_pkt_hd header;
    if (ngtcp2_accept(&header, datagram.data(), datagram.size()) != 0) return;
    if (pending.size() >= kMaxPendingHandshakes) return;
    auto session = QuicSession::server(local_, from, header, key_, options_);
    session->receive(datagram, now);
    pending.push_back(std::move(session));
  };

  for (;;) {
    for (int i = 0; i < kMaxReceivesPerTurn; ++i) {
      auto received = socket_.receive(buffer);
      if (!received) break;
      QuicTimestamp now = quic_now();
      std::span<const uint8_t> rest = received->data;
      while (!rest.empty()) {
        size_t n = std::min(received->segment_size, rest.size());
        route(received->from, rest.first(n), now);
        rest = rest.subspan(n);
      }
    }

    QuicTimestamp now = quic_now();
    std::unique_ptr<QuicSession>* winner = nullptr;
    for (auto& session : pending) {
      session->on_timer(now);
      // A full socket buffer only delays handshake packets: pacing retries them.
      (void)session->send(socket_);
      if (!winner && session->established()) winner = &session;
    }

    if (winner) {
      std::unique_ptr<QuicSession> chosen = std::move(*winner);
      for (auto& session : pending) {
        if (!session) continue;
        session->abort(kConnectionRefused, "another client completed the handshake first");
        (void)session->send(socket_);
      }
      // From now on the kernel drops everyone else's datagrams.
      socket_.connect(chosen->remote());
      return std::make_unique<QuicConnection>(QuicConnection::ConstructionKey{}, std::move(socket_),
                                              std::move(chosen));
    }

    std::erase_if(pending, [&](const auto& session) {
      if (!session->finished(now)) return false;
      last_failure = session->exchange().error();
      return true;
    });

    if (now >= deadline) {
      throw QuicHandshakeError(
          "no QUIC client completed the handshake on " + local_.to_string() + " within " +
          std::to_string(timeout.count()) + " ms" +
          (last_failure.empty() ? std::string() : " (last attempt: " + last_failure + ")"));
    }

    QuicTimestamp wake = deadline;
    for (const auto& session : pending) wake = std::min(wake, session->deadline());
    timespec wait{};
    if (wake > now) {
      wait.tv_sec = static_cast<time_t>((wake - now) / 1'000'000'000u);
      wait.tv_nsec = static_cast<long>((wake - now) % 1'000'000'000u);
    }
    pollfd fd{socket_.fd(), POLLIN, 0};
    (void)::ppoll(&fd, 1, &wait, nullptr);
  }
}

}  // namespace arsync::dataplane
