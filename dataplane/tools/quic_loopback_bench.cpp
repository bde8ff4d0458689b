// Loopback throughput of the QUIC data plane: both ends in this process, over 127.0.0.1.
// Shapes: one stream of 1 GiB, 8 streams of 128 MiB, 1000 streams of 64 KiB (each answered
// with a one-byte status, as the sync engine's file streams are). Prints MB/s (10^6 bytes)
// per congestion controller.
//
//   quic_loopback_bench [--cc reno|cubic|bbr|bbr2|all] [--shape one|eight|many|all]
//                       [--mib N (the one-stream size)] [--no-gso] [--no-gro] [--repeat N]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/quic_connection.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_listener.h"

namespace {

using namespace arsync::dataplane;
using Clock = std::chrono::steady_clock;

struct Shape {
  std::string name;
  size_t streams;
  uint64_t bytes_per_stream;
  size_t writers;
};

struct Result {
  double seconds = 0;
  uint64_t bytes = 0;
  QuicStats sender;
  QuicStats receiver;
};

// Reads every stream the peer opens, checks its length, answers with a status byte.
void receive_all(QuicConnection& connection, uint64_t expected, std::atomic<bool>& bad) {
  std::vector<uint8_t> buffer(256 * 1024);
  while (auto stream = connection.accept_stream()) {
    uint64_t total = 0;
    while (size_t n = connection.read(*stream, buffer)) total += n;
    uint8_t status = total == expected ? 0 : 1;
    if (status != 0) bad = true;
    connection.write(*stream, std::span<const uint8_t>(&status, 1), true);
  }
}

Result run(const Shape& shape, const QuicOptions& options) {
  PskKey key = generate_psk_key();
  QuicListener listener("127.0.0.1", PortRange{0, 0}, key, options);
  std::unique_ptr<QuicConnection> server;
  std::thread acceptor([&] { server = listener.accept(std::chrono::seconds(10)); });
  auto client = QuicConnection::connect("127.0.0.1", listener.port(), key, options);
  acceptor.join();

  std::atomic<bool> bad{false};
  std::mutex failure_mutex;
  std::string failure;
  // Runs `body`, keeping the first exception's message for the report.
  auto guarded = [&](auto body) {
    return [&, body] {
      try {
        body();
      } catch (const std::exception& e) {
        std::lock_guard lock(failure_mutex);
        if (failure.empty()) failure = e.what();
        bad = true;
      }
    };
  };
  size_t receivers = shape.streams > 8 ? 4 : shape.streams;
  std::vector<std::thread> readers;
  for (size_t i = 0; i < receivers; ++i)
    readers.emplace_back(guarded([&] { receive_all(*server, shape.bytes_per_stream, bad); }));

  std::vector<uint8_t> block(256 * 1024);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 131 + 7);
  std::atomic<size_t> next{0};
  auto start = Clock::now();
  std::vector<std::thread> writers;
  for (size_t w = 0; w < shape.writers; ++w) {
    writers.emplace_back(guarded([&] {
      std::vector<int64_t> mine;
      for (size_t i; (i = next++) < shape.streams;) {
        int64_t stream = client->open_stream();
        mine.push_back(stream);
        uint64_t left = shape.bytes_per_stream;
        while (left > 0) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(left, block.size()));
          left -= n;
          client->write(stream, std::span<const uint8_t>(block.data(), n), left == 0);
        }
        // Collect statuses as we go so that stream slots come back.
        if (mine.size() >= 64) {
          for (int64_t s : mine) {
            uint8_t status[2];
            size_t got = 0;
            while (size_t n = client->read(s, std::span<uint8_t>(status + got, 2 - got))) got += n;
            if (got != 1 || status[0] != 0) bad = true;
          }
          mine.clear();
        }
      }
      for (int64_t s : mine) {
        uint8_t status[2];
        size_t got = 0;
        while (size_t n = client->read(s, std::span<uint8_t>(status + got, 2 - got))) got += n;
        if (got != 1 || status[0] != 0) bad = true;
      }
    }));
  }
  for (auto& t : writers) t.join();
  auto stop = Clock::now();
  Result result;
  result.sender = client->stats();
  client->close();
  for (auto& t : readers) t.join();
  result.receiver = server->stats();
  server->close();
  if (!failure.empty()) throw std::runtime_error(failure);
  if (bad) throw std::runtime_error("the data did not arrive intact");
  result.seconds = std::chrono::duration<double>(stop - start).count();
  result.bytes = shape.streams * shape.bytes_per_stream;
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cc_arg = "all";
  std::string shape_arg = "all";
  uint64_t mib = 1024;
  int repeat = 1;
  QuicOptions options;
  apply_tuning_from_environment(options);  // ARSYNC_QUIC_TUNE, to compare window sizes
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--cc") {
      cc_arg = value();
    } else if (arg == "--shape") {
      shape_arg = value();
    } else if (arg == "--mib") {
      mib = std::stoull(value());
    } else if (arg == "--repeat") {
      repeat = std::stoi(value());
    } else if (arg == "--no-gso") {
      options.use_gso = false;
    } else if (arg == "--no-gro") {
      options.use_gro = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--cc reno|cubic|bbr|bbr2|all] [--shape one|eight|many|all] "
                   "[--mib N] [--repeat N] [--no-gso] [--no-gro]\n",
                   argv[0]);
      return 2;
    }
  }
  std::vector<CongestionControl> ccs;
  if (cc_arg == "all") {
    ccs = {CongestionControl::cubic, CongestionControl::bbr, CongestionControl::bbr2,
           CongestionControl::reno};
  } else if (auto cc = parse_congestion_control(cc_arg)) {
    ccs = {*cc};
  } else {
    std::fprintf(stderr, "unknown congestion controller %s\n", cc_arg.c_str());
    return 2;
  }
  std::vector<Shape> shapes;
  uint64_t one = mib << 20;
  if (shape_arg == "all" || shape_arg == "one")
    shapes.push_back({"1 x " + std::to_string(mib) + " MiB", 1, one, 1});
  if (shape_arg == "all" || shape_arg == "eight")
    shapes.push_back({"8 x " + std::to_string(mib / 8) + " MiB", 8, one / 8, 8});
  if (shape_arg == "all" || shape_arg == "many")
    shapes.push_back({"1000 x 64 KiB", 1000, 64 << 10, 4});
  if (shapes.empty()) {
    std::fprintf(stderr, "unknown shape %s\n", shape_arg.c_str());
    return 2;
  }
  options.max_streams = kMaxQuicStreams;
  std::printf("%-6s %-16s %10s %8s %12s %12s %9s\n", "cc", "shape", "MB/s", "seconds",
              "dgrams/send", "dgrams/recv", "srtt us");
  // Rounds interleave the controllers, so that a noisy moment on a shared machine does not
  // land on one of them only.
  std::map<std::pair<std::string, std::string>, std::vector<double>> rates;
  for (int r = 0; r < repeat; ++r) {
    for (const Shape& shape : shapes) {
      for (CongestionControl cc : ccs) {
        options.congestion_control = cc;
        std::string name(congestion_control_name(cc));
        try {
          Result result = run(shape, options);
          auto ratio = [](uint64_t a, uint64_t b) { return b ? double(a) / double(b) : 0.0; };
          double rate = double(result.bytes) / result.seconds / 1e6;
          rates[{shape.name, name}].push_back(rate);
          std::printf("%-6s %-16s %10.1f %8.2f %12.1f %12.1f %9.0f\n", name.c_str(),
                      shape.name.c_str(), rate, result.seconds,
                      ratio(result.sender.datagrams_sent, result.sender.send_calls),
                      ratio(result.receiver.datagrams_received, result.receiver.receive_calls),
                      double(result.sender.smoothed_rtt.count()) / 1e3);
          std::fflush(stdout);
        } catch (const std::exception& e) {
          std::printf("%-6s %-16s failed: %s\n", name.c_str(), shape.name.c_str(), e.what());
        }
      }
    }
  }
  if (repeat > 1) {
    std::printf("\nmedian (min-max) MB/s over %d rounds\n", repeat);
    for (auto& [key, list] : rates) {
      std::sort(list.begin(), list.end());
      std::printf("%-6s %-16s %8.1f (%.1f-%.1f)\n", key.second.c_str(), key.first.c_str(),
                  list[list.size() / 2], list.front(), list.back());
    }
  }
  return 0;
}
