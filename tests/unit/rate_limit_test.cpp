// --bwlimit: rsync's RATE syntax, the token bucket, the paced SSH stream, and the fields
// --cc and --bwlimit add to quic_init and sync_start.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "dataplane/quic_options.h"
#include "dataplane/rate_limit.h"

namespace arsync::dataplane {
namespace {

TEST(Bwlimit, ParsesRsyncRates) {
  EXPECT_EQ(parse_bwlimit("0"), 0u);
  EXPECT_EQ(parse_bwlimit("100"), 100u * 1024);  // KiB/s by default, as in rsync
  EXPECT_EQ(parse_bwlimit("100K"), 100u * 1024);
  EXPECT_EQ(parse_bwlimit("2M"), 2u << 20);
  EXPECT_EQ(parse_bwlimit("2m"), 2u << 20);
  EXPECT_EQ(parse_bwlimit("2MiB"), 2u << 20);
  EXPECT_EQ(parse_bwlimit("2MB"), 2'000'000u);
  EXPECT_EQ(parse_bwlimit("1G"), 1u << 30);
  EXPECT_EQ(parse_bwlimit("1.5M"), 3u << 19);
  EXPECT_EQ(parse_bwlimit("600b"), 600u);
  EXPECT_EQ(parse_bwlimit("0M"), 0u);
}

TEST(Bwlimit, RefusesWhatIsNotARate) {
  for (const char* bad : {"", "M", "-1", "1X", "1MX", "1 M", "1e3", "1.2.3", "10b", "0.1"})
    EXPECT_FALSE(parse_bwlimit(bad)) << bad;
  EXPECT_FALSE(parse_bwlimit("99999999999999999999G"));
}

TEST(TokenBucket, PacesToTheRate) {
  constexpr uint64_t kRate = 1'000'000;  // bytes per second
  uint64_t now = 1'000'000'000;
  TokenBucket bucket(kRate, now);
  uint64_t sent = 0;
  // Send 1,500-byte packets whenever the bucket allows, for one simulated second.
  const uint64_t end = now + 1'000'000'000;
  while (now < end) {
    if (bucket.ready(now)) {
      bucket.spend(1500);
      sent += 1500;
    } else {
      const uint64_t at = bucket.ready_at();
      ASSERT_GT(at, now);
      ASSERT_NE(at, UINT64_MAX);
      now = at;
    }
  }
  // One second of the rate plus at most the initial burst (20 ms) and a packet.
  EXPECT_GE(sent, kRate);
  EXPECT_LE(sent, kRate + kRate / 50 + 1500);
  // Not waiting: no wake-up is due.
  TokenBucket idle(kRate, 0);
  EXPECT_TRUE(idle.ready(0));
  EXPECT_EQ(idle.ready_at(), UINT64_MAX);
}

class SinkStream final : public control::ByteStream {
 public:
  size_t read_some(void*, size_t) override { return 0; }
  void write_all(const void*, size_t n) override { written += n; }
  void close_write() override {}
  size_t written = 0;
};

TEST(RateLimitedStream, WritesAtTheRate) {
  SinkStream sink;
  RateLimitedStream paced(sink, 4u << 20);  // 4 MiB/s
  std::vector<uint8_t> data(1u << 20);
  const auto start = std::chrono::steady_clock::now();
  paced.write_all(data.data(), data.size());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(sink.written, data.size());
  EXPECT_GE(seconds, 0.2);  // 1 MiB at 4 MiB/s, less the 20 ms burst
  EXPECT_LT(seconds, 2.0);
  paced.set_rate(0);
  paced.write_all(data.data(), data.size());
  EXPECT_EQ(sink.written, 2 * data.size());
}

TEST(QuicInitMessage, CarriesCcAndBwlimit) {
  control::QuicInit init;
  init.key_hex = std::string(64, 'a');
  auto plain = control::parse_quic_init(control::make_quic_init(init));
  EXPECT_EQ(plain.key_hex, init.key_hex);
  EXPECT_EQ(plain.congestion_control, "");
  EXPECT_EQ(plain.bwlimit, 0u);
  EXPECT_FALSE(control::make_quic_init(init).contains("cc"));
  init.congestion_control = "cubic";
  init.bwlimit = 2u << 20;
  auto full = control::parse_quic_init(control::make_quic_init(init));
  EXPECT_EQ(full.congestion_control, "cubic");
  EXPECT_EQ(full.bwlimit, 2u << 20);

  auto bad = control::make_quic_init(init);
  bad["cc"] = 5;
  EXPECT_THROW(control::parse_quic_init(bad), control::ProtocolError);
  bad["cc"] = std::string(100, 'x');
  EXPECT_THROW(control::parse_quic_init(bad), control::ProtocolError);
  bad = control::make_quic_init(init);
  bad["bwlimit"] = -1;
  EXPECT_THROW(control::parse_quic_init(bad), control::ProtocolError);
  bad["bwlimit"] = uint64_t{1} << 60;
  EXPECT_THROW(control::parse_quic_init(bad), control::ProtocolError);
}

TEST(QuicInitMessage, CarriesTheSshRoundTrip) {
  control::QuicInit init;
  init.key_hex = std::string(64, 'b');
  init.rtt_us = 20500;
  EXPECT_EQ(control::parse_quic_init(control::make_quic_init(init)).rtt_us, 20500u);
  auto bad = control::make_quic_init(init);
  bad["rtt_us"] = 20'000'000;
  EXPECT_THROW(control::parse_quic_init(bad), control::ProtocolError);
  EXPECT_EQ(initial_rtt_from(std::chrono::milliseconds(20)), std::chrono::microseconds(20000));
  EXPECT_EQ(initial_rtt_from(std::chrono::microseconds(10)), std::chrono::microseconds(1000));
  EXPECT_EQ(initial_rtt_from(std::chrono::seconds(2)), std::chrono::microseconds(333000));
}

TEST(QuicTuning, OverridesWindowsAndRefusesNonsense) {
  QuicOptions options;
  apply_tuning(options, "max_stream_window=64M,max_connection_window=128M,send_buffer=96m");
  EXPECT_EQ(options.max_stream_window, 64u << 20);
  EXPECT_EQ(options.max_connection_window, 128u << 20);
  EXPECT_EQ(options.send_buffer, 96u << 20);
  apply_tuning(options, "stream_window=512K");
  EXPECT_EQ(options.stream_window, 512u << 10);
  for (const char* bad : {"nonsense", "max_window=1M", "stream_window=", "stream_window=1X",
                          "stream_window=64M,max_stream_window=1M", "send_buffer=-1"}) {
    QuicOptions o;
    EXPECT_THROW(apply_tuning(o, bad), std::invalid_argument) << bad;
  }
}

TEST(SyncStartMessage, CarriesBwlimit) {
  control::SyncStart start;
  start.paths = {"dest"};
  EXPECT_EQ(control::parse_sync_start(control::make_sync_start(start)).bwlimit, 0u);
  start.bwlimit = 123456;
  auto message = control::make_sync_start(start);
  EXPECT_EQ(control::parse_sync_start(message).bwlimit, 123456u);
  message["bwlimit"] = "fast";
  EXPECT_THROW(control::parse_sync_start(message), control::ProtocolError);
}

}  // namespace
}  // namespace arsync::dataplane
