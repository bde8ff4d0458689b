// The QUIC data plane's building blocks that need no network: keys, addresses, port
// ranges, options, and the per-stream receive queue.
#include <gtest/gtest.h>

#include <numeric>
#include <stdexcept>
#include <vector>

#include "dataplane/quic_options.h"
#include "dataplane/quic_psk.h"
#include "dataplane/quic_stream_exchange.h"
#include "dataplane/socket_address.h"

namespace arsync::dataplane {
namespace {

TEST(QuicPsk, KeysAreFreshAndSurviveHex) {
  PskKey a = generate_psk_key();
  PskKey b = generate_psk_key();
  EXPECT_NE(a, b);
  EXPECT_NE(a, PskKey{});
  std::string hex = psk_to_hex(a);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.find_first_not_of("0123456789abcdef"), std::string::npos);
  auto back = psk_from_hex(hex);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, a);
  for (auto& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(psk_from_hex(hex), a);
}

TEST(QuicPsk, MalformedHexIsRefused) {
  std::string good(64, 'a');
  EXPECT_TRUE(psk_from_hex(good));
  EXPECT_FALSE(psk_from_hex(good.substr(1)));
  EXPECT_FALSE(psk_from_hex(good + "a"));
  EXPECT_FALSE(psk_from_hex(std::string(63, 'a') + "g"));
  EXPECT_FALSE(psk_from_hex(""));
}

TEST(QuicPortRange, ParsesSinglePortsAndRanges) {
  auto any = parse_port_range("0");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->first, 0);
  EXPECT_EQ(any->last, 0);
  auto one = parse_port_range("4433");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->first, 4433);
  EXPECT_EQ(one->last, 4433);
  auto range = parse_port_range("60000-60010");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 60000);
  EXPECT_EQ(range->last, 60010);
  for (const char* bad : {"", "-", "1-", "-2", "10-9", "0-5", "65536", "x", "1-2-3", " 1", "1 "})
    EXPECT_FALSE(parse_port_range(bad)) << bad;
}

TEST(QuicSocketAddress, ParsesNumericAddressesOnly) {
  auto v4 = SocketAddress::parse_numeric("127.0.0.1", 4433);
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->port(), 4433);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:4433");
  auto v6 = SocketAddress::parse_numeric("[::1]", 80);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_EQ(v6->to_string(), "[::1]:80");
  EXPECT_FALSE(SocketAddress::parse_numeric("localhost", 1));
  EXPECT_FALSE(SocketAddress::parse_numeric("1.2.3", 1));
  EXPECT_TRUE(*v4 == *SocketAddress::parse_numeric("127.0.0.1", 4433));
  EXPECT_FALSE(*v4 == *SocketAddress::parse_numeric("127.0.0.1", 4434));
  EXPECT_FALSE(*v4 == *v6);
}

TEST(QuicOptions, CongestionControlNamesRoundTrip) {
  for (auto cc : {CongestionControl::reno, CongestionControl::cubic, CongestionControl::bbr,
                  CongestionControl::bbr2})
    EXPECT_EQ(parse_congestion_control(congestion_control_name(cc)), cc);
  EXPECT_FALSE(parse_congestion_control("vegas"));
}

TEST(QuicOptions, OutOfRangeValuesAreRefused) {
  EXPECT_NO_THROW(validate(QuicOptions{}));
  QuicOptions o;
  o.max_streams = 0;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o = {};
  o.max_streams = kMaxQuicStreams + 1;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o = {};
  o.max_stream_window = o.stream_window - 1;
  EXPECT_THROW(validate(o), std::invalid_argument);
  o = {};
  o.handshake_timeout = std::chrono::milliseconds(0);
  EXPECT_THROW(validate(o), std::invalid_argument);
}

TEST(QuicReceiveQueue, KeepsOrderAcrossChunks) {
  ReceiveQueue queue;
  std::vector<uint8_t> in(300000);
  std::iota(in.begin(), in.end(), 0);
  // Pieces of awkward sizes, like packets.
  for (size_t at = 0, step = 1; at < in.size(); at += step, step = step * 7 % 1500 + 1)
    queue.append({in.data() + at, std::min(step, in.size() - at)});
  EXPECT_EQ(queue.size(), in.size());
  std::vector<uint8_t> out;
  std::vector<uint8_t> piece(997);
  while (!queue.empty()) {
    size_t n = queue.take(piece);
    out.insert(out.end(), piece.begin(), piece.begin() + static_cast<ptrdiff_t>(n));
  }
  EXPECT_EQ(out, in);
  EXPECT_EQ(queue.take(piece), 0u);
}

}  // namespace
}  // namespace arsync::dataplane
