// What the TCP sink measured for one connection, from the receiver's side: what arrived, not
// what the sender managed to queue.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arsync::netprobe {

class SinkMeter {
 public:
  // Bytes received `warmup_ns` or more after the first read count towards steady_mbit, so
  // that slow start does not pull that figure down. The first read's bytes count in `bytes`
  // only: when they arrived is unknown.
  explicit SinkMeter(int64_t warmup_ns) : warmup_ns_(warmup_ns) {}

  void record(int64_t now_ns, uint64_t bytes);

  // "bytes=N seconds=S mbit=M steady_mbit=M intervals_mbit=a,b,..." (one-second intervals
  // from the first byte; steady_mbit is 0 when nothing arrived after the warm-up).
  std::string report() const;

 private:
  int64_t warmup_ns_;
  int64_t first_ns_ = -1;
  int64_t last_ns_ = -1;
  uint64_t bytes_ = 0;
  uint64_t first_bytes_ = 0;      // bytes of the first read
  int64_t steady_start_ns_ = -1;  // the last arrival before the warm-up ended
  uint64_t steady_bytes_ = 0;     // bytes that arrived after steady_start_ns_
  std::vector<uint64_t> interval_bytes_;
};

}  // namespace arsync::netprobe
