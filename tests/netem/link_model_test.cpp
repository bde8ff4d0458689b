// The decisions of arsync-linkem's link model, on a clock the test drives: delay, the rate's
// serialisation delay, the drop-tail queue and seeded random loss.
#include "bench/linkem/link_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bench/linkem/link_params.h"

namespace arsync::linkem {
namespace {

constexpr int64_t kMs = 1'000'000;

LinkParams params(double delay_ms, double loss_percent, double rate_mbit, uint64_t queue_pkts,
                  uint64_t queue_bytes = 0) {
  LinkParams p;
  p.delay_ms = delay_ms;
  p.loss_percent = loss_percent;
  p.rate_mbit = rate_mbit;
  p.queue_pkts = queue_pkts;
  p.queue_bytes = queue_bytes;
  return p;
}

TEST(LinkModel, DelayOnlyReleasesEachPacketOneDelayAfterItArrived) {
  LinkModel model(params(0.25, 0, 0, 10), 1);
  for (int64_t now : {int64_t{0}, int64_t{7}, 3 * kMs, 3 * kMs}) {
    const Admission a = model.admit(now, 1500);
    EXPECT_EQ(a.verdict, Verdict::kForward);
    EXPECT_EQ(a.release_ns, now + 250'000);
  }
  EXPECT_EQ(model.backlog_pkts(), 0u);  // no rate, no queue
}

TEST(LinkModel, RateSpacesABurstBySerialisationTime) {
  // 1500 bytes at 12 Mbit/s take exactly 1 ms; the delay comes on top.
  LinkModel model(params(10, 0, 12, 0), 1);
  for (int i = 1; i <= 5; ++i) {
    const Admission a = model.admit(0, 1500);
    ASSERT_EQ(a.verdict, Verdict::kForward);
    EXPECT_EQ(a.release_ns, i * kMs + 10 * kMs);
  }
  EXPECT_EQ(model.backlog_pkts(), 5u);
  EXPECT_EQ(model.backlog_bytes(), 5u * 1500);
  // After the link went idle a packet waits for its own serialisation only.
  const Admission idle = model.admit(20 * kMs, 1500);
  EXPECT_EQ(idle.release_ns, 21 * kMs + 10 * kMs);
  EXPECT_EQ(model.backlog_pkts(), 1u);
}

TEST(LinkModel, RateStaysExactOverManyPacketsWhenTimesAreNotWholeNanoseconds) {
  // 1000 bytes at 3 Mbit/s: 2666666.67 ns each. Rounding each one would drift by 0.33 ms.
  LinkModel model(params(0, 0, 3, 0), 1);
  Admission last;
  for (int i = 0; i < 1000; ++i) last = model.admit(0, 1000);
  EXPECT_NEAR(static_cast<double>(last.release_ns), 1000 * 8000 / 3e6 * 1e9, 1.0);
}

TEST(LinkModel, FullQueueDropsTheTailUntilThePacketsAheadLeave) {
  LinkModel model(params(0, 0, 12, 3), 1);  // 1 ms per packet, 3 packets of queue
  EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kForward);
  EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kForward);
  EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kForward);
  EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kQueueFull);
  EXPECT_EQ(model.admit(kMs - 1, 1500).verdict, Verdict::kQueueFull);
  // The first packet is out at 1 ms: room for exactly one more, released after the others.
  const Admission a = model.admit(kMs, 1500);
  EXPECT_EQ(a.verdict, Verdict::kForward);
  EXPECT_EQ(a.release_ns, 4 * kMs);
  EXPECT_EQ(model.admit(kMs, 1500).verdict, Verdict::kQueueFull);
}

TEST(LinkModel, ByteLimitCountsBytesNotPackets) {
  LinkModel model(params(0, 0, 1, 0, 3000), 1);
  EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kForward);
  EXPECT_EQ(model.admit(0, 1000).verdict, Verdict::kForward);
  EXPECT_EQ(model.admit(0, 600).verdict, Verdict::kQueueFull);  // 3100 > 3000
  EXPECT_EQ(model.admit(0, 500).verdict, Verdict::kForward);    // 3000 fits
  EXPECT_EQ(model.admit(0, 40).verdict, Verdict::kQueueFull);
}

TEST(LinkModel, WithoutARateTheQueueLimitHasNothingToLimit) {
  LinkModel model(params(5, 0, 0, 1, 100), 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kForward);
}

// Losses of `n` packets as a string of 0 and 1, for comparing sequences.
std::vector<bool> losses(double percent, uint64_t seed, int n) {
  LinkModel model(params(0, percent, 0, 0), seed);
  std::vector<bool> out;
  for (int i = 0; i < n; ++i) out.push_back(model.admit(i, 100).verdict == Verdict::kLost);
  return out;
}

TEST(LinkModel, LossRateMatchesTheSettingWithinStatisticalBounds) {
  constexpr int kPackets = 200'000;
  for (double percent : {0.1, 1.0, 20.0, 50.0}) {
    const std::vector<bool> lost = losses(percent, 42, kPackets);
    const double p = percent / 100;
    const double measured =
        static_cast<double>(std::count(lost.begin(), lost.end(), true)) / kPackets;
    const double sigma = std::sqrt(p * (1 - p) / kPackets);
    EXPECT_NEAR(measured, p, 5 * sigma) << "loss " << percent << "%";
  }
}

TEST(LinkModel, NoLossAndFullLossAreExact) {
  const std::vector<bool> none = losses(0, 7, 10'000);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
  const std::vector<bool> all = losses(100, 7, 10'000);
  EXPECT_EQ(std::count(all.begin(), all.end(), true), 10'000);
}

TEST(LinkModel, TheSeedDecidesTheLossSequence) {
  EXPECT_EQ(losses(30, 1, 5000), losses(30, 1, 5000));
  EXPECT_NE(losses(30, 1, 5000), losses(30, 2, 5000));
}

TEST(LinkModel, LostPacketsDoNotOccupyTheLink) {
  LinkModel model(params(0, 100, 12, 0), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(model.admit(0, 1500).verdict, Verdict::kLost);
  EXPECT_EQ(model.backlog_pkts(), 0u);
}

TEST(LinkParams, RejectsWhatCannotBeEmulated) {
  EXPECT_EQ(invalid_reason(params(25, 1, 1000, 10000)), "");
  EXPECT_NE(invalid_reason(params(-1, 0, 0, 0)), "");
  EXPECT_NE(invalid_reason(params(0, 101, 0, 0)), "");
  EXPECT_NE(invalid_reason(params(0, -0.5, 0, 0)), "");
  EXPECT_NE(invalid_reason(params(0, 0, -1, 0)), "");
  EXPECT_NE(invalid_reason(params(0, 0, 0.0001, 0)), "");
  EXPECT_NE(invalid_reason(params(NAN, 0, 0, 0)), "");
}

TEST(LinkParams, InFlightEstimateCoversQueueAndWire) {
  // 1 Gbit/s for 25 ms is 2083 full-size packets on the wire, plus the queue.
  EXPECT_EQ(packets_in_flight_at_full_load(params(25, 0, 1000, 10000), 1500), 2083u + 10000 + 1);
  EXPECT_EQ(packets_in_flight_at_full_load(params(25, 0, 1000, 0, 15000), 1500), 2083u + 10 + 1);
  EXPECT_GT(packets_in_flight_at_full_load(params(25, 0, 0, 10000), 1500), 10000u);
  EXPECT_EQ(packets_in_flight_at_full_load(params(0, 0, 0, 10000), 1500), 0u);
}

}  // namespace
}  // namespace arsync::linkem
