// Streams over the QUIC data plane on loopback: many at once, large transfers, limits,
// backpressure, resets, every congestion controller, and noise on the ports.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/quic_byte_stream.h"
#include "dataplane/quic_connection.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_listener.h"
#include "fsio/unique_fd.h"
#include "tests/unit/quic_pair.h"

namespace arsync::dataplane {
namespace {

using namespace std::chrono_literals;

// Deterministic content: stream `seed`'s bytes from `offset` on.
void fill(std::vector<uint8_t>& out, uint64_t seed, uint64_t offset) {
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^ (offset + i) * 0xBF58476D1CE4E5B9ull;
    out[i] = static_cast<uint8_t>(x >> 29 ^ x);
  }
}

std::vector<uint8_t> read_to_end(QuicConnection& connection, int64_t stream) {
  std::vector<uint8_t> all;
  std::vector<uint8_t> buffer(64 * 1024);
  while (size_t n = connection.read(stream, buffer))
    all.insert(all.end(), buffer.begin(), buffer.begin() + static_cast<ptrdiff_t>(n));
  return all;
}

void write_bytes(QuicConnection& connection, int64_t stream, const std::vector<uint8_t>& data,
                 bool fin) {
  connection.write(stream, std::span<const uint8_t>(data), fin);
}

// Collects failures from helper threads, where gtest assertions cannot stop the test.
class Failures {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mutex_);
    if (list_.size() < 10) list_.push_back(what);
    ++count_;
  }
  template <typename F>
  auto guard(F f) {
    return [this, f] {
      try {
        f();
      } catch (const std::exception& e) {
        add(e.what());
      }
    };
  }
  void check() const {
    std::lock_guard lock(mutex_);
    for (const auto& f : list_) ADD_FAILURE() << f;
    EXPECT_EQ(count_, 0u);
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> list_;
  size_t count_ = 0;
};

// The receiver's side of a file stream: reads everything, answers with its XXH3-64 and
// length (16 bytes), finishes.
void answer_streams(QuicConnection& server, Failures& failures) {
  while (auto stream = server.accept_stream()) {
    XXH3_state_t* state = XXH3_createState();
    XXH3_64bits_reset(state);
    std::vector<uint8_t> buffer(128 * 1024);
    uint64_t length = 0;
    while (size_t n = server.read(*stream, buffer)) {
      XXH3_64bits_update(state, buffer.data(), n);
      length += n;
    }
    uint64_t reply[2] = {XXH3_64bits_digest(state), length};
    XXH3_freeState(state);
    server.write(*stream,
                 std::span<const uint8_t>(reinterpret_cast<uint8_t*>(reply), sizeof(reply)), true);
  }
  (void)failures;
}

void expect_reply(QuicConnection& client, int64_t stream, uint64_t hash, uint64_t length,
                  Failures& failures) {
  auto reply = read_to_end(client, stream);
  uint64_t got[2] = {0, 0};
  if (reply.size() != sizeof(got)) {
    failures.add("stream " + std::to_string(stream) + ": reply of " + std::to_string(reply.size()) +
                 " bytes");
    return;
  }
  std::memcpy(got, reply.data(), sizeof(got));
  if (got[0] != hash || got[1] != length)
    failures.add("stream " + std::to_string(stream) + ": content differs (" +
                 std::to_string(got[1]) + " of " + std::to_string(length) + " bytes)");
}

TEST(QuicStreams, ThousandStreamsInFlightAtOnce) {
  QuicOptions options;
  options.max_streams = kMaxQuicStreams;
  Pair pair = connect_pair(options);
  Failures failures;
  std::vector<std::thread> receivers;
  for (int i = 0; i < 8; ++i)
    receivers.emplace_back(failures.guard([&] { answer_streams(*pair.server, failures); }));

  // All 1000 open together: none can close before its reply is read below.
  std::vector<int64_t> streams;
  for (size_t i = 0; i < kMaxQuicStreams; ++i) {
    auto stream = pair.client->try_open_stream();
    ASSERT_TRUE(stream) << "stream " << i << " of " << kMaxQuicStreams;
    streams.push_back(*stream);
  }
  EXPECT_FALSE(pair.client->try_open_stream()) << "the limit is " << kMaxQuicStreams;

  std::vector<std::pair<uint64_t, uint64_t>> expected(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    std::vector<uint8_t> data(1 + (i * 7919) % 6000);
    fill(data, i, 0);
    expected[i] = {XXH3_64bits(data.data(), data.size()), data.size()};
    // Header and content in one write, FIN in a write of its own: both ways of ending.
    write_bytes(*pair.client, streams[i], data, i % 2 == 0);
    if (i % 2 == 1) pair.client->finish(streams[i]);
  }
  for (size_t i = 0; i < streams.size(); ++i)
    expect_reply(*pair.client, streams[i], expected[i].first, expected[i].second, failures);

  // Every slot came back: streams can be opened again.
  auto again = pair.client->open_stream();
  pair.client->finish(again);
  expect_reply(*pair.client, again, XXH3_64bits(nullptr, 0), 0, failures);

  pair.client->close();
  for (auto& t : receivers) t.join();
  pair.server->close();
  failures.check();
}

TEST(QuicStreams, LargeTransferAcrossFourStreamsArrivesIntact) {
  Pair pair = connect_pair();
  Failures failures;
  std::vector<std::thread> receivers;
  for (int i = 0; i < 4; ++i)
    receivers.emplace_back(failures.guard([&] { answer_streams(*pair.server, failures); }));

  constexpr uint64_t kPerStream = 64ull << 20;  // 256 MiB in all
  constexpr size_t kPiece = 1 << 20;
  std::vector<std::thread> senders;
  for (int s = 0; s < 4; ++s) {
    senders.emplace_back(failures.guard([&, s] {
      int64_t stream = pair.client->open_stream();
      XXH3_state_t* state = XXH3_createState();
      XXH3_64bits_reset(state);
      std::vector<uint8_t> piece(kPiece);
      for (uint64_t offset = 0; offset < kPerStream; offset += kPiece) {
        fill(piece, 1000 + s, offset);
        XXH3_64bits_update(state, piece.data(), piece.size());
        // The vector form hands the buffer over without a copy.
        pair.client->write(stream, fsio::ByteBuffer::copy_of(piece), offset + kPiece == kPerStream);
      }
      uint64_t hash = XXH3_64bits_digest(state);
      XXH3_freeState(state);
      expect_reply(*pair.client, stream, hash, kPerStream, failures);
    }));
  }
  for (auto& t : senders) t.join();
  pair.client->close();
  for (auto& t : receivers) t.join();
  pair.server->close();
  failures.check();
}

TEST(QuicStreams, RandomDatagramsDuringATransferChangeNothing) {
  Pair pair = connect_pair();
  Failures failures;
  std::thread receiver(failures.guard([&] { answer_streams(*pair.server, failures); }));

  std::atomic<bool> stop{false};
  std::thread noise([&] {
    fsio::UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    std::mt19937 random(7);
    std::vector<uint8_t> datagram;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    while (!stop) {
      datagram.resize(random() % 1400 + 1);
      for (auto& b : datagram) b = static_cast<uint8_t>(random());
      // Both ends' ports: the listener's, and the client's (its peer's port from its side).
      for (uint16_t port : {pair.listener->port(), pair.server->peer().port()}) {
        to.sin_port = htons(port);
        (void)::sendto(fd.get(), datagram.data(), datagram.size(), 0,
                       reinterpret_cast<sockaddr*>(&to), sizeof(to));
      }
      std::this_thread::sleep_for(50us);
    }
  });

  constexpr uint64_t kSize = 32ull << 20;
  int64_t stream = pair.client->open_stream();
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  std::vector<uint8_t> piece(256 * 1024);
  for (uint64_t offset = 0; offset < kSize; offset += piece.size()) {
    fill(piece, 99, offset);
    XXH3_64bits_update(state, piece.data(), piece.size());
    write_bytes(*pair.client, stream, piece, offset + piece.size() == kSize);
  }
  uint64_t hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  expect_reply(*pair.client, stream, hash, kSize, failures);
  stop = true;
  noise.join();
  pair.client->close();
  receiver.join();
  pair.server->close();
  failures.check();
}

TEST(QuicStreams, OpenBlocksAtTheStreamLimitUntilOneCloses) {
  QuicOptions options;
  options.max_streams = 4;
  Pair pair = connect_pair(options);
  std::vector<int64_t> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(pair.client->open_stream());
  EXPECT_FALSE(pair.client->try_open_stream());

  auto fifth = std::async(std::launch::async, [&] { return pair.client->open_stream(); });
  EXPECT_EQ(fifth.wait_for(200ms), std::future_status::timeout);

  // Complete the first stream both ways: its slot comes back.
  pair.client->finish(streams[0]);
  auto incoming = pair.server->accept_stream();
  ASSERT_TRUE(incoming);
  EXPECT_TRUE(read_to_end(*pair.server, *incoming).empty());
  pair.server->finish(*incoming);
  EXPECT_TRUE(read_to_end(*pair.client, streams[0]).empty());
  ASSERT_EQ(fifth.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(fifth.get(), streams[3] + 4);
}

TEST(QuicStreams, WritesBlockWhileThePeerDoesNotRead) {
  QuicOptions options;
  options.send_buffer = 256 * 1024;
  options.stream_send_buffer = 256 * 1024;
  options.stream_window = 64 * 1024;
  options.max_stream_window = 64 * 1024;
  Pair pair = connect_pair(options);
  int64_t stream = pair.client->open_stream();
  std::vector<uint8_t> piece(64 * 1024, 0x5a);
  std::atomic<int> written{0};
  auto writer = std::async(std::launch::async, [&] {
    for (int i = 0; i < 32; ++i) {  // 2 MiB, far beyond window and buffer
      write_bytes(*pair.client, stream, piece, i == 31);
      ++written;
    }
  });
  std::this_thread::sleep_for(300ms);
  // The peer's window (64 KiB) plus our buffer (256 KiB) is what may be written unread.
  EXPECT_LE(written.load(), 6);
  EXPECT_EQ(writer.wait_for(0s), std::future_status::timeout);

  auto incoming = pair.server->accept_stream();
  ASSERT_TRUE(incoming);
  auto all = read_to_end(*pair.server, *incoming);
  EXPECT_EQ(all.size(), 32u * piece.size());
  writer.get();
  EXPECT_EQ(written.load(), 32);
}

TEST(QuicStreams, ResetReachesTheReader) {
  Pair pair = connect_pair();
  int64_t stream = pair.client->open_stream();
  write_bytes(*pair.client, stream, std::vector<uint8_t>(1000, 1), false);
  auto incoming = pair.server->accept_stream();
  ASSERT_TRUE(incoming);
  std::vector<uint8_t> buffer(1000);
  size_t got = 0;
  while (got < 1000) got += pair.server->read(*incoming, std::span(buffer).subspan(got));
  pair.client->reset_stream(stream, 77);
  try {
    pair.server->read(*incoming, buffer);
    FAIL() << "read after a reset";
  } catch (const QuicStreamReset& e) {
    EXPECT_EQ(e.code(), 77u);
  }
  // The connection itself lives on.
  int64_t next = pair.client->open_stream();
  write_bytes(*pair.client, next, std::vector<uint8_t>{1, 2, 3}, true);
  auto second = pair.server->accept_stream();
  ASSERT_TRUE(second);
  EXPECT_EQ(read_to_end(*pair.server, *second), (std::vector<uint8_t>{1, 2, 3}));
  pair.client->close();
  pair.server->close();
}

TEST(QuicStreams, EitherSideMayOpenStreams) {
  Pair pair = connect_pair();
  // A pull: the helper (server) is the sender.
  int64_t stream = pair.server->open_stream();
  EXPECT_EQ(stream % 4, 1) << "server-initiated bidirectional ids are 1 mod 4";
  write_bytes(*pair.server, stream, std::vector<uint8_t>(5000, 9), true);
  auto incoming = pair.client->accept_stream();
  ASSERT_TRUE(incoming);
  EXPECT_EQ(*incoming, stream);
  EXPECT_EQ(read_to_end(*pair.client, *incoming), std::vector<uint8_t>(5000, 9));
  pair.client->finish(*incoming);
  EXPECT_TRUE(read_to_end(*pair.server, stream).empty());
  pair.server->close();
  // The client learns of the clean close: no more streams will come.
  EXPECT_FALSE(pair.client->accept_stream());
  pair.client->close();
}

TEST(QuicStreams, AStreamServesAsAByteStream) {
  Pair pair = connect_pair();
  QuicByteStream out(*pair.client, pair.client->open_stream());
  std::vector<uint8_t> message(300000);
  fill(message, 3, 0);
  out.write_all(message.data(), message.size());
  out.write_all(message.data(), 0);
  out.close_write();
  auto incoming = pair.server->accept_stream();
  ASSERT_TRUE(incoming);
  QuicByteStream in(*pair.server, *incoming);
  std::vector<uint8_t> got;
  uint8_t buffer[7000];
  while (size_t n = in.read_some(buffer, sizeof(buffer))) got.insert(got.end(), buffer, buffer + n);
  EXPECT_EQ(got, message);
  EXPECT_EQ(in.read_some(buffer, sizeof(buffer)), 0u) << "the end stays the end";
  in.close_write();
  EXPECT_EQ(out.read_some(buffer, sizeof(buffer)), 0u);
  pair.client->close();
  pair.server->close();
}

class QuicCongestionControl : public ::testing::TestWithParam<CongestionControl> {};

TEST_P(QuicCongestionControl, CarriesAFewMegabytes) {
  QuicOptions options;
  options.congestion_control = GetParam();
  Pair pair = connect_pair(options);
  Failures failures;
  std::thread receiver(failures.guard([&] { answer_streams(*pair.server, failures); }));
  std::vector<uint8_t> data(8 << 20);
  fill(data, 5, 0);
  int64_t stream = pair.client->open_stream();
  write_bytes(*pair.client, stream, data, true);
  expect_reply(*pair.client, stream, XXH3_64bits(data.data(), data.size()), data.size(), failures);
  pair.client->close();
  receiver.join();
  pair.server->close();
  failures.check();
}

INSTANTIATE_TEST_SUITE_P(All, QuicCongestionControl,
                         ::testing::Values(CongestionControl::reno, CongestionControl::cubic,
                                           CongestionControl::bbr, CongestionControl::bbr2),
                         [](const auto& info) {
                           return std::string(congestion_control_name(info.param));
                         });

}  // namespace
}  // namespace arsync::dataplane
