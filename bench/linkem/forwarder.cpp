#include "bench/linkem/forwarder.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "bench/linkem/monotonic_clock.h"
#include "bench/linkem/realtime.h"

namespace arsync::linkem {
namespace {

// Packets read before due releases get another look. Reading 8 packets takes some 10-20 us,
// so a burst of input holds a due packet back by no more than that (the target is 0.1 ms),
// while the releases still go out in batches rather than one wake-up each.
constexpr int kReadBatch = 8;

// Room for bursts even on a link without delay (1.5 MiB at MTU 1500).
constexpr size_t kMinBufferPackets = 1024;

// The most a wake-up may be assumed to overshoot (see learn_wake_latency).
constexpr int64_t kMaxWakeLatencyNs = 200'000;

}  // namespace

Forwarder::Forwarder(const ForwarderConfig& config)
    : config_(config),
      model_(config.params, config.seed),
      // One byte more than the MTU, so that a packet longer than the MTU shows as a read that
      // fills the slot (TUN truncates to the buffer) and is dropped, not sent on truncated.
      ring_(config.mtu + 1,
            std::max(kMinBufferPackets, packets_in_flight_at_full_load(config.params, config.mtu)),
            config.max_in_flight) {}

void Forwarder::learn_wake_latency(int64_t overslept_ns) {
  // A moving average over the last ~8 timed wake-ups, kept within sane bounds so that one
  // long stall (a preempted VM) cannot make the link release everything early.
  wake_latency_ns_ +=
      (std::clamp<int64_t>(overslept_ns, 0, kMaxWakeLatencyNs) - wake_latency_ns_) / 8;
}

void Forwarder::release_due(int64_t due_by_ns) {
  while (!ring_.empty()) {
    const PacketRing::Packet packet = ring_.front();
    if (packet.release_ns > due_by_ns) return;
    // The error is taken before the write: the write itself runs the far end's receive path
    // (its TCP stack), which is the receiver's time, not the link's.
    const int64_t error_ns = monotonic_ns() - packet.release_ns;
    // A TUN write hands the packet to the far namespace's stack and does not block.
    const ssize_t written = ::write(config_.out_fd, packet.data, packet.length);
    if (written == static_cast<ssize_t>(packet.length)) {
      stats_.count_forwarded(packet.length, error_ns);
    } else {
      // EIO while the far device is down, EINVAL for a packet its stack rejects: the packet
      // is gone, as on a real link; the link goes on.
      stats_.count_write_error();
    }
    ring_.pop();
  }
}

void Forwarder::admit(size_t length, bool kept_in_ring) {
  stats_.count_received();
  if (length > config_.mtu) {
    stats_.count_oversize();
    return;
  }
  const Admission admission = model_.admit(monotonic_ns(), length);
  switch (admission.verdict) {
    case Verdict::kLost:
      stats_.count_lost();
      return;
    case Verdict::kQueueFull:
      stats_.count_queue_drop();
      return;
    case Verdict::kForward:
      break;
  }
  if (!kept_in_ring) {
    // More packets in flight than --max-in-flight allows: the queue of last resort is full.
    stats_.count_queue_drop();
    return;
  }
  ring_.push(length, admission.release_ns);
}

bool Forwarder::read_batch() {
  std::vector<uint8_t> overflow;
  for (int i = 0; i < kReadBatch; ++i) {
    const size_t capacity = ring_.capacity();
    uint8_t* slot = ring_.tail_slot();
    if (ring_.capacity() != capacity) {
      // Touching the new memory stalled the link: say so, it shows in the release errors.
      std::fprintf(stderr, "arsync-linkem: %s: buffer grew to %zu packets\n", config_.name.c_str(),
                   ring_.capacity());
    }
    const bool in_ring = slot != nullptr;
    if (!in_ring) {
      overflow.resize(ring_.slot_bytes());
      slot = overflow.data();
    }
    const ssize_t n = ::read(config_.in_fd, slot, ring_.slot_bytes());
    if (n < 0) {
      if (errno == EAGAIN) return false;
      if (errno == EINTR) continue;
      throw std::runtime_error("read from the TUN device: " + std::string(std::strerror(errno)));
    }
    admit(static_cast<size_t>(n), in_ring);
  }
  return true;
}

std::string Forwarder::run() {
  if (const std::string why = make_thread_realtime(config_.rt_priority); !why.empty()) {
    std::fprintf(stderr, "arsync-linkem: %s: no real-time scheduling (%s); running on\n",
                 config_.name.c_str(), why.c_str());
  }
  pollfd fds[2] = {{config_.in_fd, POLLIN, 0}, {config_.stop_fd, POLLIN, 0}};
  try {
    for (;;) {
      // A packet due within the wake-up latency goes now: sleeping for it would make it late
      // by about as much as sending it now makes it early.
      release_due(monotonic_ns() + wake_latency_ns_);
      if (read_batch()) continue;  // more input waiting: release, then read on
      timespec timeout{};
      timespec* wait = nullptr;  // nothing in flight: sleep until a packet or the stop
      int64_t wake_at = 0;
      if (!ring_.empty()) {
        // Asks to wake early by the usual latency, so that the wake-up lands on time.
        wake_at = ring_.front().release_ns - wake_latency_ns_;
        const int64_t left = wake_at - monotonic_ns();
        if (left <= 0) continue;
        timeout = to_timespec(left);
        wait = &timeout;
      }
      const int ready = ::ppoll(fds, 2, wait, nullptr);
      if (ready < 0 && errno != EINTR) return "ppoll: " + std::string(std::strerror(errno));
      if (ready == 0 && wait != nullptr) learn_wake_latency(monotonic_ns() - wake_at);
      if (fds[1].revents != 0) return "";
      if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 &&
          (fds[0].revents & POLLIN) == 0) {
        return "the input TUN device failed (deleted with its namespace?)";
      }
    }
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace arsync::linkem
