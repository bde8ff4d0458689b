// arsync-linkem's packet FIFO: order, contents and release times survive wrap-around and
// growth, and it refuses more than its maximum.
#include "bench/linkem/packet_ring.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <string>

namespace arsync::linkem {
namespace {

// Pushes `text` as a packet released at `release_ns`; false if the ring is full.
bool push(PacketRing& ring, const std::string& text, int64_t release_ns) {
  uint8_t* slot = ring.tail_slot();
  if (slot == nullptr) return false;
  std::memcpy(slot, text.data(), text.size());
  ring.push(text.size(), release_ns);
  return true;
}

std::string pop(PacketRing& ring, int64_t* release_ns) {
  const PacketRing::Packet p = ring.front();
  std::string text(reinterpret_cast<const char*>(p.data), p.length);
  *release_ns = p.release_ns;
  ring.pop();
  return text;
}

TEST(PacketRing, KeepsOrderContentsAndTimesThroughWrapAroundAndGrowth) {
  PacketRing ring(64, 4, 64);
  EXPECT_EQ(ring.capacity(), 4u);
  std::deque<std::pair<std::string, int64_t>> expected;
  int next = 0;
  // Fill unevenly, so that growth happens while the ring has wrapped.
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 3 + round % 5; ++i, ++next) {
      const std::string text = "packet " + std::to_string(next);
      ASSERT_TRUE(push(ring, text, next * 10));
      expected.emplace_back(text, next * 10);
    }
    for (int i = 0; i < 2 + round % 5 && !expected.empty(); ++i) {
      int64_t release = 0;
      EXPECT_EQ(pop(ring, &release), expected.front().first);
      EXPECT_EQ(release, expected.front().second);
      expected.pop_front();
    }
    ASSERT_EQ(ring.size(), expected.size());
  }
  EXPECT_GT(ring.capacity(), 4u);
  while (!expected.empty()) {
    int64_t release = 0;
    EXPECT_EQ(pop(ring, &release), expected.front().first);
    expected.pop_front();
  }
  EXPECT_TRUE(ring.empty());
}

TEST(PacketRing, RefusesMoreThanItsMaximum) {
  PacketRing ring(16, 2, 5);  // 5 rounds up to 8
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(push(ring, "x", i));
  EXPECT_EQ(ring.tail_slot(), nullptr);
  int64_t release = 0;
  pop(ring, &release);
  EXPECT_EQ(release, 0);
  EXPECT_NE(ring.tail_slot(), nullptr);
}

}  // namespace
}  // namespace arsync::linkem
