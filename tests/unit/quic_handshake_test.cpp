// Establishing the QUIC data plane over loopback: the right key gets a connection, a wrong
// one fails fast without costing the right client its chance, and every way of not getting
// a connection is a QuicHandshakeError the caller can fall back on.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/quic_connection.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_listener.h"
#include "fsio/unique_fd.h"

namespace arsync::dataplane {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string read_all(QuicConnection& connection, int64_t stream) {
  std::string text;
  char buffer[4096];
  while (size_t n = connection.read(stream, {reinterpret_cast<uint8_t*>(buffer), sizeof(buffer)}))
    text.append(buffer, n);
  return text;
}

void write_text(QuicConnection& connection, int64_t stream, const std::string& text, bool fin) {
  connection.write(stream, {reinterpret_cast<const uint8_t*>(text.data()), text.size()}, fin);
}

// One request and its answer on one stream, from the client's side; the server echoes.
void exchange_hello(QuicConnection& client, QuicConnection& server) {
  std::thread responder([&] {
    auto stream = server.accept_stream();
    ASSERT_TRUE(stream);
    std::string request = read_all(server, *stream);
    write_text(server, *stream, "ok:" + request, true);
  });
  int64_t stream = client.open_stream();
  write_text(client, stream, "hello over quic", true);
  EXPECT_EQ(read_all(client, stream), "ok:hello over quic");
  responder.join();
}

fsio::UniqueFd udp_socket(int family) {
  return fsio::UniqueFd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
}

// A bound UDP port on 127.0.0.1 that never answers, and its number.
std::pair<fsio::UniqueFd, uint16_t> silent_port() {
  auto fd = udp_socket(AF_INET);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  socklen_t size = sizeof(address);
  EXPECT_EQ(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &size), 0);
  return {std::move(fd), ntohs(address.sin_port)};
}

TEST(QuicHandshake, RightKeyConnectsAndCarriesAStream) {
  PskKey key = generate_psk_key();
  QuicListener listener("127.0.0.1", PortRange{0, 0}, key);
  ASSERT_NE(listener.port(), 0);
  auto accepted = std::async(std::launch::async, [&] { return listener.accept(10s); });
  auto client = QuicConnection::connect("127.0.0.1", listener.port(), key);
  auto server = accepted.get();
  ASSERT_TRUE(client && server);
  EXPECT_EQ(client->peer().port(), listener.port());
  exchange_hello(*client, *server);
  client->close();
  server->close();
  // A second accept on the same listener is a programming error: one session, one client.
  EXPECT_THROW(listener.accept(10ms), std::logic_error);
}

std::chrono::microseconds cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return us(usage.ru_utime) + us(usage.ru_stime);
}

TEST(QuicHandshake, IdleConnectionsSleep) {
  PskKey key = generate_psk_key();
  QuicListener listener("127.0.0.1", PortRange{0, 0}, key);
  auto accepted = std::async(std::launch::async, [&] { return listener.accept(10s); });
  auto client = QuicConnection::connect("127.0.0.1", listener.port(), key);
  auto server = accepted.get();
  exchange_hello(*client, *server);
  // Two event loops with nothing to do must not spin: CPU time, not wall time, so a busy
  // machine does not make this flaky.
  auto before = cpu_time();
  std::this_thread::sleep_for(1s);
  EXPECT_LT(cpu_time() - before, 100ms);
  client->close();
  server->close();
}

TEST(QuicHandshake, WorksOverIpv6) {
  PskKey key = generate_psk_key();
  std::unique_ptr<QuicListener> listener;
  try {
    listener = std::make_unique<QuicListener>("::1", PortRange{0, 0}, key);
  } catch (const QuicError& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(10s); });
  auto client = QuicConnection::connect("::1", listener->port(), key);
  auto server = accepted.get();
  EXPECT_EQ(server->peer().family(), AF_INET6);
  exchange_hello(*client, *server);
  client->close();
  server->close();
}

TEST(QuicHandshake, WrongKeyFailsFastAndTheRightClientStillGetsIn) {
  PskKey key = generate_psk_key();
  QuicListener listener("127.0.0.1", PortRange{0, 0}, key);
  auto accepted = std::async(std::launch::async, [&] { return listener.accept(20s); });

  PskKey wrong = key;
  wrong[7] ^= 0x40;
  auto start = Clock::now();
  try {
    QuicConnection::connect("127.0.0.1", listener.port(), wrong);
    FAIL() << "a wrong key got a connection";
  } catch (const QuicHandshakeError& e) {
    EXPECT_NE(std::string(e.what()).find("session key"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 1s) << "a refused key must not wait for the handshake timeout";

  auto client = QuicConnection::connect("127.0.0.1", listener.port(), key);
  auto server = accepted.get();
  exchange_hello(*client, *server);
  client->close();
  server->close();
}

TEST(QuicHandshake, TimesOutWhenNothingAnswers) {
  auto [silent, port] = silent_port();
  QuicOptions options;
  options.handshake_timeout = 300ms;
  auto start = Clock::now();
  try {
    QuicConnection::connect("127.0.0.1", port, generate_psk_key(), options);
    FAIL() << "connected to a port that never answers";
  } catch (const QuicHandshakeError& e) {
    EXPECT_NE(std::string(e.what()).find("within 300 ms"), std::string::npos) << e.what();
  }
  auto took = Clock::now() - start;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST(QuicHandshake, ClosedPortIsRefusedAtOnce) {
  uint16_t port;
  {
    auto [fd, bound] = silent_port();
    port = bound;
  }  // closed again: nothing listens there now
  auto start = Clock::now();
  try {
    QuicConnection::connect("127.0.0.1", port, generate_psk_key());
    FAIL() << "connected to a closed port";
  } catch (const QuicHandshakeError& e) {
    EXPECT_NE(std::string(e.what()).find("refused"), std::string::npos) << e.what();
  }
  EXPECT_LT(Clock::now() - start, 1s) << "ICMP port unreachable should end the attempt";
}

TEST(QuicHandshake, AcceptGivesUpAtItsDeadline) {
  QuicListener listener("127.0.0.1", PortRange{0, 0}, generate_psk_key());
  auto start = Clock::now();
  EXPECT_THROW(listener.accept(200ms), QuicHandshakeError);
  auto took = Clock::now() - start;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);
}

TEST(QuicHandshake, ListenerBindsInsideAPortRange) {
  PskKey key = generate_psk_key();
  // Find two free neighbouring ports, occupy the first, and ask for the pair.
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto [held, port] = silent_port();
    if (port == 65535) continue;
    try {
      QuicListener listener("127.0.0.1", PortRange{port, static_cast<uint16_t>(port + 1)}, key);
      EXPECT_EQ(listener.port(), port + 1);
      EXPECT_THROW(QuicListener("127.0.0.1", PortRange{port, port}, key), QuicError);
      return;
    } catch (const QuicError&) {
      continue;  // port + 1 was taken by someone else; try elsewhere
    }
  }
  FAIL() << "no two neighbouring free ports found";
}

TEST(QuicHandshake, StrayDatagramsBeforeTheClientAreIgnored) {
  PskKey key = generate_psk_key();
  QuicListener listener("127.0.0.1", PortRange{0, 0}, key);
  auto accepted = std::async(std::launch::async, [&] { return listener.accept(20s); });

  auto stray = udp_socket(AF_INET);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(listener.port());
  std::mt19937 random(42);
  std::vector<uint8_t> datagram;
  for (int i = 0; i < 400; ++i) {
    datagram.resize(random() % 1500 + 1);
    for (auto& b : datagram) b = static_cast<uint8_t>(random());
    // Every other one looks like a QUIC v1 Initial of full size: long header, version 1,
    // plausible connection ids. It cannot decrypt, and must cost nothing lasting.
    if (i % 2 == 0 && datagram.size() >= 1200) {
      datagram[0] = 0xc0 | (datagram[0] & 0x0f);
      datagram[1] = datagram[2] = datagram[3] = 0;
      datagram[4] = 1;
      datagram[5] = 8;
      datagram[14] = 8;
    }
    ASSERT_GE(::sendto(stray.get(), datagram.data(), datagram.size(), 0,
                       reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              0);
  }
  auto client = QuicConnection::connect("127.0.0.1", listener.port(), key);
  auto server = accepted.get();
  exchange_hello(*client, *server);
  client->close();
  server->close();
}

TEST(QuicHandshake, ClientGetsAFailureWhenTheServerVanishes) {
  PskKey key = generate_psk_key();
  QuicListener listener("127.0.0.1", PortRange{0, 0}, key);
  auto accepted = std::async(std::launch::async, [&] { return listener.accept(10s); });
  auto client = QuicConnection::connect("127.0.0.1", listener.port(), key);
  auto server = accepted.get();
  int64_t stream = client->open_stream();
  write_text(*client, stream, "half a request", false);
  server.reset();  // abandoned without close(): the client hears application error 1
  EXPECT_THROW(read_all(*client, stream), QuicError);
  EXPECT_THROW(client->open_stream(), QuicError);
  EXPECT_THROW(client->close(), QuicError);
}

}  // namespace
}  // namespace arsync::dataplane
