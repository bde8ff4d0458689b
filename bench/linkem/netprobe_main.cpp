// arsync-netprobe: measures a link between two network namespaces (RTT, loss, TCP
// throughput) with a server in one and a client in the other. Made for arsync-linkem's tests
// and benchmarks: iperf3 and ping are not available here.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <string>

#include "bench/linkem/ipv4_endpoint.h"
#include "bench/linkem/probe_server.h"
#include "bench/linkem/rtt_probe.h"
#include "bench/linkem/tcp_throughput.h"

namespace {

constexpr const char* kFooter = R"(
Every result is one line of key=value pairs on stdout, for scripts to read.

Examples (namespaces and addresses of bench/netns-up):
  ip netns exec arsync-b arsync-netprobe serve --bind 10.77.0.2 &
  ip netns exec arsync-a arsync-netprobe rtt --to 10.77.0.2 --count 500 --interval-ms 10
  ip netns exec arsync-a arsync-netprobe throughput --to 10.77.0.2 --seconds 5 --cc cubic
)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"arsync-netprobe: RTT, loss and TCP throughput between two hosts",
               "arsync-netprobe"};
  app.footer(kFooter);
  app.require_subcommand(1);
  uint16_t port = 7001;

  std::string bind_address;
  CLI::App* serve = app.add_subcommand(
      "serve", "UDP echo and TCP sink on one address and port; prints 'ready', runs until killed");
  serve->add_option("--bind", bind_address, "IPv4 address to listen on")->required();
  serve->add_option("--port", port, "UDP and TCP port")->capture_default_str();

  std::string to;
  arsync::netprobe::RttPlan rtt_plan;
  double interval_ms = 10;
  double wait_ms = 1000;
  CLI::App* rtt = app.add_subcommand(
      "rtt", "round-trip times and loss of UDP probes to a server's echo (like ping -i)");
  rtt->add_option("--to", to, "server's IPv4 address")->required();
  rtt->add_option("--port", port, "server's port")->capture_default_str();
  rtt->add_option("--count", rtt_plan.count, "probes to send")
      ->check(CLI::Range(uint64_t{1}, uint64_t{10'000'000}))
      ->capture_default_str();
  rtt->add_option("--interval-ms", interval_ms, "time between probes")
      ->check(CLI::Range(0.001, 60'000.0))
      ->capture_default_str();
  rtt->add_option("--size", rtt_plan.datagram_bytes, "UDP payload bytes (16 to 65507)")
      ->check(CLI::Range(size_t{16}, size_t{65507}))
      ->capture_default_str();
  rtt->add_option("--wait-ms", wait_ms, "how long to wait for answers after the last probe")
      ->check(CLI::Range(0.0, 600'000.0))
      ->capture_default_str();

  arsync::netprobe::ThroughputPlan tcp_plan;
  double seconds = 4;
  double warmup_s = 1;
  CLI::App* throughput = app.add_subcommand(
      "throughput", "one TCP stream to a server's sink for a fixed time; the receiver's rate");
  throughput->add_option("--to", to, "server's IPv4 address")->required();
  throughput->add_option("--port", port, "server's port")->capture_default_str();
  throughput->add_option("--seconds", seconds, "how long to send")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  throughput->add_option("--warmup-s", warmup_s, "left out of steady_mbit (slow start)")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  throughput->add_option("--cc", tcp_plan.congestion,
                         "TCP congestion control of the sending socket (reno, cubic, bbr)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (serve->parsed()) arsync::netprobe::serve(bind_address, port);
    if (rtt->parsed()) {
      rtt_plan.interval_ns = static_cast<int64_t>(interval_ms * 1e6);
      rtt_plan.wait_ns = static_cast<int64_t>(wait_ms * 1e6);
      const auto result =
          arsync::netprobe::measure_rtt(arsync::netprobe::ipv4_endpoint(to, port), rtt_plan);
      std::printf("%s\n", result.report().c_str());
    }
    if (throughput->parsed()) {
      tcp_plan.duration_ns = static_cast<int64_t>(seconds * 1e9);
      tcp_plan.warmup_ns = static_cast<int64_t>(warmup_s * 1e9);
      std::printf("%s\n", arsync::netprobe::measure_throughput(
                              arsync::netprobe::ipv4_endpoint(to, port), tcp_plan)
                              .c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync-netprobe: %s\n", e.what());
    return 1;
  }
  return 0;
}
