// arsync-netprobe's receiver-side throughput figures, on a clock the test drives.
#include "bench/linkem/sink_meter.h"

#include <gtest/gtest.h>

#include <string>

namespace arsync::netprobe {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(SinkMeter, RatesLeaveOutTheFirstReadAndTheWarmUp) {
  SinkMeter meter(1000 * kMs);
  // 125,000 bytes every 10 ms is 100 Mbit/s; the first read (at t=0) is a burst of 1 MB
  // that arrived at an unknown time.
  meter.record(0, 1'000'000);
  for (int i = 1; i <= 300; ++i) meter.record(i * 10 * kMs, 125'000);
  const std::string report = meter.report();
  EXPECT_NE(report.find("bytes=38500000 "), std::string::npos) << report;
  EXPECT_NE(report.find("seconds=3.000 "), std::string::npos) << report;
  EXPECT_NE(report.find(" mbit=100.00 "), std::string::npos) << report;
  EXPECT_NE(report.find(" steady_mbit=100.00 "), std::string::npos) << report;
  // Whole seconds only: [0,1) holds the burst and 99 reads, [1,2) and [2,3) 100 reads each,
  // [3,4) (one read) is partial and left out.
  EXPECT_NE(report.find("intervals_mbit=107.00,100.00,100.00"), std::string::npos) << report;
}

TEST(SinkMeter, SteadyRateIgnoresASlowStart) {
  SinkMeter meter(500 * kMs);
  for (int i = 0; i < 50; ++i) meter.record(i * 10 * kMs, 1250);       // 1 Mbit/s for 0.5 s
  for (int i = 50; i <= 150; ++i) meter.record(i * 10 * kMs, 12'500);  // then 10 Mbit/s
  const std::string report = meter.report();
  EXPECT_NE(report.find(" steady_mbit=10.00 "), std::string::npos) << report;
}

TEST(SinkMeter, NothingAfterTheWarmUpGivesNoSteadyRate) {
  SinkMeter meter(1000 * kMs);
  meter.record(0, 100);
  meter.record(5 * kMs, 100);
  EXPECT_NE(meter.report().find(" steady_mbit=0.00 "), std::string::npos) << meter.report();
}

}  // namespace
}  // namespace arsync::netprobe
