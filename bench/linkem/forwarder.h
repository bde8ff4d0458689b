// One direction of the link: a thread that reads packets from one TUN device, runs them
// through the LinkModel and writes each one to the other device at its release time.
//
// The thread sleeps in ppoll() on the input device and a stop descriptor, with a nanosecond
// timeout up to the next release, so that it wakes for a packet to read or a packet to
// release and for nothing else: no periodic tick, no millisecond timer. A timed wake-up comes
// some tens of microseconds late on this VM even at real-time priority, so the thread learns
// that latency and asks to wake that much earlier.
#pragma once

#include <cstdint>
#include <string>

#include "bench/linkem/direction_stats.h"
#include "bench/linkem/link_model.h"
#include "bench/linkem/link_params.h"
#include "bench/linkem/packet_ring.h"

namespace arsync::linkem {

struct ForwarderConfig {
  std::string name;  // "a->b", for messages
  int in_fd = -1;    // non-blocking TUN descriptor to read from
  int out_fd = -1;   // TUN descriptor to write to
  int stop_fd = -1;  // readable (an eventfd) when the thread must return
  LinkParams params;
  uint64_t seed = 0;
  size_t mtu = 1500;
  size_t max_in_flight = 0;  // packets held at most (queued plus delayed)
  int rt_priority = 0;       // SCHED_FIFO priority; 0: ordinary scheduling
};

class Forwarder {
 public:
  explicit Forwarder(const ForwarderConfig& config);

  // Forwards until stop_fd becomes readable or the input device fails. Returns "" or the
  // failure (e.g. the device was deleted with its namespace).
  std::string run();

  const DirectionStats& stats() const { return stats_; }
  size_t buffer_packets() const { return ring_.capacity(); }

 private:
  // Writes out every packet due by `due_by_ns`.
  void release_due(int64_t due_by_ns);
  void learn_wake_latency(int64_t overslept_ns);
  // Reads what the input device has, up to a batch; false once it has nothing more. Throws
  // std::runtime_error if the device fails.
  bool read_batch();
  void admit(size_t length, bool kept_in_ring);

  ForwarderConfig config_;
  LinkModel model_;
  PacketRing ring_;
  DirectionStats stats_;
  int64_t wake_latency_ns_ = 0;  // how late timed wake-ups come, lately
};

}  // namespace arsync::linkem
