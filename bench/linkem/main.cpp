// arsync-linkem: a userspace link emulator (delay, loss, rate, queue) between two TUN devices,
// for a kernel without sch_netem. See --help and bench/README.md, "Link emulator".
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/linkem/forwarder.h"
#include "bench/linkem/link_params.h"
#include "bench/linkem/tun_device.h"
#include "fsio/unique_fd.h"

namespace {

using arsync::linkem::Forwarder;
using arsync::linkem::ForwarderConfig;
using arsync::linkem::LinkParams;
using arsync::linkem::TunDevice;

constexpr const char* kFooter = R"(
Packets read from DEV_A go to DEV_B ("a->b") and the other way round ("b->a"). Each
direction is a drop-tail queue in front of a link of the given rate, then a fixed delay:
  arrival -> loss -> queue (--queue-*) -> serialisation (--rate-mbit) -> --delay-ms -> out
The rate counts whole IP packets (headers included, no link-layer overhead); without a rate
no queue forms and the queue limits do nothing. The options without a prefix set both
directions; --a2b-* and --b2a-* override one direction.

The devices are created in the current network namespace and live as long as this process
(move them with `ip link set dev NAME netns NS`: the link keeps working). bench/netns-up
does all of that: two namespaces, addresses, this program in the background.

SIGUSR1 prints the counters to stderr; SIGINT and SIGTERM print them and exit.
Counters per direction: packets received, forwarded (and bytes), lost (--loss), queue drops
(--queue-* or --max-in-flight), oversize (longer than --mtu), write errors (far device down),
and the release error: when each packet went out against its release time (+ late, - early;
mean, quantiles in 10 us steps, min, max). The forwarding threads learn how late their timed
wake-ups come and wake that much earlier, so packets go out a little early (typically up to
~50 us, never more than 200 us) rather than late. Errors beyond ~0.1 ms mean the emulator, not the emulated link, shaped the timing.

Performance (2-core VM, MTU 1500, no TUN offloads): ~400k packets/s (~4.6 Gbit/s of one TCP
stream) per direction without delay; 1 Gbit/s with 50 ms RTT at line rate. The thread that
writes into a namespace also runs that namespace's receive path (TCP included), so near
1 Gbit/s it uses most of a core: if it passes 95%, the kernel's RT throttling stops it for up
to 50 ms (see ARSYNC_NETNS_RT_UNTHROTTLED in bench/netns-up --help).

Examples:
  arsync-linkem --dev-a lka --dev-b lkb --delay-ms 25 --loss 1 --rate-mbit 1000
  arsync-linkem --dev-a lka --dev-b lkb --delay-ms 25 --b2a-delay-ms 5 --a2b-loss 0.5
)";

struct Options {
  std::string dev_a;
  std::string dev_b;
  int mtu = 1500;
  LinkParams both;
  LinkParams a2b;
  LinkParams b2a;
  uint64_t seed = 1;
  size_t max_in_flight = 262'144;
  int rt_priority = 10;
  std::string pid_file;
};

// Adds --PREFIXdelay-ms etc. bound to `params`.
void add_link_options(CLI::App& app, const std::string& prefix, const std::string& which,
                      LinkParams& params) {
  app.add_option("--" + prefix + "delay-ms", params.delay_ms,
                 "one-way delay in ms, fractions allowed (" + which + ")");
  app.add_option("--" + prefix + "loss", params.loss_percent,
                 "random loss in percent, 0-100 (" + which + ")");
  app.add_option("--" + prefix + "rate-mbit", params.rate_mbit,
                 "rate limit in Mbit/s, 0 = unlimited (" + which + ")");
  app.add_option("--" + prefix + "queue-pkts", params.queue_pkts,
                 "queue limit in packets, 0 = none (" + which + ")");
  app.add_option("--" + prefix + "queue-bytes", params.queue_bytes,
                 "queue limit in bytes, 0 = none (" + which + ")");
}

// The parameters of one direction: the common ones, with what --PREFIX* gave on top.
LinkParams direction_params(const CLI::App& app, const std::string& prefix, const LinkParams& both,
                            const LinkParams& given) {
  LinkParams out = both;
  auto given_on_command_line = [&](const char* name) {
    return app.get_option("--" + prefix + name)->count() > 0;
  };
  if (given_on_command_line("delay-ms")) out.delay_ms = given.delay_ms;
  if (given_on_command_line("loss")) out.loss_percent = given.loss_percent;
  if (given_on_command_line("rate-mbit")) out.rate_mbit = given.rate_mbit;
  if (given_on_command_line("queue-pkts")) out.queue_pkts = given.queue_pkts;
  if (given_on_command_line("queue-bytes")) out.queue_bytes = given.queue_bytes;
  return out;
}

void write_pid_file(const std::string& path) {
  // Written once both devices exist: its appearance tells a script that the link is ready.
  const std::string partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + partial);
  }
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    throw std::runtime_error("rename " + partial + ": " + std::strerror(errno));
  }
}

int run(const Options& options, const LinkParams& a2b, const LinkParams& b2a) {
  // The signals are taken by sigwaitinfo below; the forwarding threads inherit the mask and
  // never see them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const TunDevice dev_a(options.dev_a, options.mtu);
  const TunDevice dev_b(options.dev_b, options.mtu);
  const arsync::fsio::UniqueFd stop(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));

  auto config = [&](const char* name, const TunDevice& in, const TunDevice& out,
                    const LinkParams& params, uint64_t seed) {
    ForwarderConfig c;
    c.name = name;
    c.in_fd = in.fd();
    c.out_fd = out.fd();
    c.stop_fd = stop.get();
    c.params = params;
    c.seed = seed;
    c.mtu = static_cast<size_t>(options.mtu);
    c.max_in_flight = options.max_in_flight;
    c.rt_priority = options.rt_priority;
    return c;
  };
  // Different seeds per direction: with one, both would lose the same packet numbers.
  Forwarder forward_a2b(config("a->b", dev_a, dev_b, a2b, options.seed));
  Forwarder forward_b2a(config("b->a", dev_b, dev_a, b2a, options.seed ^ 0x5bd1e9955bd1e995ULL));

  std::fprintf(stderr, "arsync-linkem: %s <-> %s, mtu %d, seed %llu\n", dev_a.name().c_str(),
               dev_b.name().c_str(), options.mtu, static_cast<unsigned long long>(options.seed));
  std::fprintf(stderr, "arsync-linkem: a->b: %s; buffer %zu packets\n", describe(a2b).c_str(),
               forward_a2b.buffer_packets());
  std::fprintf(stderr, "arsync-linkem: b->a: %s; buffer %zu packets\n", describe(b2a).c_str(),
               forward_b2a.buffer_packets());

  std::string error_a2b, error_b2a;
  std::thread thread_a2b([&] {
    error_a2b = forward_a2b.run();
    if (!error_a2b.empty()) ::kill(::getpid(), SIGTERM);  // wakes the main thread below
  });
  std::thread thread_b2a([&] {
    error_b2a = forward_b2a.run();
    if (!error_b2a.empty()) ::kill(::getpid(), SIGTERM);
  });
  if (!options.pid_file.empty()) write_pid_file(options.pid_file);
  std::fprintf(stderr, "arsync-linkem: ready (PID %d)\n", static_cast<int>(::getpid()));

  auto print_counters = [&] {
    std::fprintf(stderr, "arsync-linkem: %s\narsync-linkem: %s\n",
                 forward_a2b.stats().report("a->b").c_str(),
                 forward_b2a.stats().report("b->a").c_str());
  };
  for (;;) {
    const int s = ::sigwaitinfo(&signals, nullptr);
    if (s == SIGUSR1) {
      print_counters();
    } else if (s == SIGINT || s == SIGTERM) {
      break;
    }
  }
  const uint64_t one = 1;
  if (::write(stop.get(), &one, sizeof one) != sizeof one) {
    std::perror("arsync-linkem: eventfd write");
    std::_Exit(1);  // the threads cannot be stopped: leave without joining them
  }
  thread_a2b.join();
  thread_b2a.join();
  print_counters();
  int status = 0;
  for (const auto& [name, error] : {std::pair{"a->b", &error_a2b}, {"b->a", &error_b2a}}) {
    if (error->empty()) continue;
    std::fprintf(stderr, "arsync-linkem: %s: %s\n", name, error->c_str());
    status = 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{
      "arsync-linkem: emulates a network link (delay, loss, rate, queue) between two TUN "
      "devices",
      "arsync-linkem"};
  app.footer(kFooter);
  app.add_option("--dev-a", options.dev_a, "name of the TUN device to create for end a")
      ->required();
  app.add_option("--dev-b", options.dev_b, "name of the TUN device to create for end b")
      ->required();
  app.add_option("--mtu", options.mtu, "MTU of both devices")
      ->check(CLI::Range(576, 65535))
      ->capture_default_str();
  add_link_options(app, "", "both directions", options.both);
  app.get_option("--queue-pkts")->capture_default_str();
  add_link_options(app, "a2b-", "a->b only", options.a2b);
  add_link_options(app, "b2a-", "b->a only", options.b2a);
  app.add_option("--seed", options.seed, "seed of the loss sequence")->capture_default_str();
  app.add_option("--max-in-flight", options.max_in_flight,
                 "packets held per direction at most, queued and delayed (memory: this times "
                 "the MTU); more are dropped")
      ->check(CLI::Range(size_t{1}, size_t{1} << 24))
      ->capture_default_str();
  app.add_option("--rt-priority", options.rt_priority,
                 "SCHED_FIFO priority of the forwarding threads, 0 = ordinary scheduling "
                 "(failure to get it is reported, not fatal)")
      ->check(CLI::Range(0, 99))
      ->capture_default_str();
  app.add_option("--pid-file", options.pid_file,
                 "write the PID here once both devices exist (readiness signal for scripts)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  const LinkParams a2b = direction_params(app, "a2b-", options.both, options.a2b);
  const LinkParams b2a = direction_params(app, "b2a-", options.both, options.b2a);
  for (const auto& [name, params] : {std::pair{"a->b", &a2b}, {"b->a", &b2a}}) {
    if (const std::string why = invalid_reason(*params); !why.empty()) {
      std::fprintf(stderr, "arsync-linkem: %s: %s\n", name, why.c_str());
      return 2;
    }
  }
  if (options.dev_a == options.dev_b) {
    std::fprintf(stderr, "arsync-linkem: --dev-a and --dev-b must differ\n");
    return 2;
  }
  try {
    return run(options, a2b, b2a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync-linkem: %s\n", e.what());
    return 1;
  }
}
