#include "dataplane/quic_connection.h"

#include <poll.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdint>
#include <exception>

#include "dataplane/quic_error.h"
#include "dataplane/quic_session.h"

namespace arsync::dataplane {

namespace {

// recvmsg calls per turn of the loop before it sends again: ACKs must go out while a
// flood comes in, and data must go out while ACKs come in.
constexpr int kMaxReceivesPerTurn = 64;

}  // namespace

std::unique_ptr<QuicConnection> QuicConnection::connect(const std::string& host, uint16_t port,
                                                        const PskKey& key,
                                                        const QuicOptions& options) {
  validate(options);
  SocketAddress remote;
  UdpSocket socket;
  try {
    remote = SocketAddress::resolve(host, port);
    socket = UdpSocket::connect_to(remote, options);
  } catch (const QuicHandshakeError&) {
    throw;
  } catch (const QuicError& e) {
    throw QuicHandshakeError(e.what());
  }
  auto session = QuicSession::client(socket.local_address(), remote, key, options);
  auto connection =
      std::make_unique<QuicConnection>(ConstructionKey{}, std::move(socket), std::move(session));
  // On failure the exception leaves, the connection's destructor joins the finished loop.
  connection->exchange_.wait_established();
  return connection;
}

QuicConnection::QuicConnection(ConstructionKey, UdpSocket socket,
                               std::unique_ptr<QuicSession> session)
    : socket_(std::move(socket)),
      session_(std::move(session)),
      exchange_(session_->exchange()),
      peer_(session_->remote()) {
  loop_ = std::thread([this] { run(); });
}

QuicConnection::~QuicConnection() {
  if (loop_.joinable()) {
    exchange_.request_abort();
    loop_.join();
  }
}

int64_t QuicConnection::open_stream() {
  return exchange_.open_stream();
}

std::optional<int64_t> QuicConnection::try_open_stream() {
  return exchange_.try_open_stream();
}

std::optional<int64_t> QuicConnection::accept_stream() {
  return exchange_.accept_stream();
}

void QuicConnection::stop_accepting() {
  exchange_.stop_accepting();
}

void QuicConnection::write(int64_t stream, std::span<const uint8_t> data, bool fin) {
  exchange_.write(stream, fsio::ByteBuffer::copy_of(data), fin);
}

void QuicConnection::write(int64_t stream, fsio::ByteBuffer&& data, bool fin) {
  exchange_.write(stream, std::move(data), fin);
}

size_t QuicConnection::read(int64_t stream, std::span<uint8_t> out) {
  return exchange_.read(stream, out);
}

void QuicConnection::reset_stream(int64_t stream, uint64_t code) {
  exchange_.reset(stream, code);
}

void QuicConnection::abort() {
  exchange_.request_abort();
}

void QuicConnection::close() {
  exchange_.request_close();
  if (loop_.joinable()) loop_.join();
  if (std::string error = exchange_.error(); !error.empty()) throw QuicError(error);
}

void QuicConnection::close_now() {
  exchange_.request_close(/*now=*/true);
  if (loop_.joinable()) loop_.join();
  if (std::string error = exchange_.error(); !error.empty()) throw QuicError(error);
}

QuicStats QuicConnection::stats() const {
  return exchange_.stats();
}

// ---- the event loop ----

void QuicConnection::run() {
  try {
    run_loop();
  } catch (const std::exception& e) {
    session_->give_up(std::string("the QUIC event loop failed: ") + e.what());
  }
}

void QuicConnection::run_loop() {
  // Pacing spaces packets microseconds apart; the default 50 us timer slack of a sleeping
  // thread would blur that (and ppoll's nanosecond timeout with it).
  (void)prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  ReceiveBuffer buffer;
  QuicSession& session = *session_;
  for (;;) {
    session.apply_commands();
    bool more_input = receive_some(buffer);
    exchange_.wake_readers();
    session.on_timer(quic_now());
    QuicSession::SendResult sent = session.send(socket_);
    session.publish(socket_);
    if (session.finished(quic_now())) return;
    wait_for_work(more_input || sent == QuicSession::SendResult::more,
                  sent == QuicSession::SendResult::blocked);
  }
}

bool QuicConnection::receive_some(ReceiveBuffer& buffer) {
  QuicSession& session = *session_;
  for (int i = 0; i < kMaxReceivesPerTurn; ++i) {
    auto received = socket_.receive(buffer);
    if (socket_.take_refused() && !session.established()) {
      session.give_up("nothing listens on UDP " + session.remote().to_string() +
                      " (connection refused)");
      return false;
    }
    if (!received) return false;
    // The socket is connected, so only the peer gets here; the check costs nothing.
    if (!(received->from == session.remote())) continue;
    QuicTimestamp now = quic_now();
    size_t count = 0;
    std::span<const uint8_t> rest = received->data;
    while (!rest.empty()) {
      size_t n = std::min(received->segment_size, rest.size());
      session.receive(rest.first(n), now);
      rest = rest.subspan(n);
      ++count;
    }
    session.count_received(count);
  }
  return true;
}

void QuicConnection::wait_for_work(bool busy, bool blocked) {
  timespec timeout{};
  timespec* timeout_ptr = &timeout;
  if (!busy) {
    QuicTimestamp deadline = session_->deadline();
    QuicTimestamp now = quic_now();
    if (deadline == UINT64_MAX) {
      timeout_ptr = nullptr;
    } else if (deadline > now) {
      QuicTimestamp wait = deadline - now;
      timeout.tv_sec = static_cast<time_t>(wait / 1'000'000'000u);
      timeout.tv_nsec = static_cast<long>(wait % 1'000'000'000u);
    } else {
      return;  // a timer is due
    }
  } else if (!blocked) {
    return;  // more to do at once; a readable eventfd is drained on the next real wait
  }
  pollfd fds[2] = {{socket_.fd(), static_cast<short>(POLLIN | (blocked ? POLLOUT : 0)), 0},
                   {exchange_.wakeup_fd(), POLLIN, 0}};
  if (::ppoll(fds, 2, timeout_ptr, nullptr) > 0 && (fds[1].revents & POLLIN))
    exchange_.drain_wakeups();
}

}  // namespace arsync::dataplane
