// The packets of one direction that are on their way: a FIFO of fixed-size slots in one
// buffer, so that the hot path neither allocates nor copies (packets are read from the TUN
// device straight into the next free slot). Release times only grow along the FIFO, since
// each direction has one constant delay behind a FIFO queue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace arsync::linkem {

class PacketRing {
 public:
  struct Packet {
    const uint8_t* data;
    size_t length;
    int64_t release_ns;
  };

  // Every slot holds `slot_bytes`. The ring starts with room for `initial_packets` and
  // doubles as needed up to `max_packets` (both rounded up to a power of two). Its memory is
  // touched here, at start-up: on this VM a page touched for the first time costs ~18 us, and
  // growing by 16 MiB in the middle of a transfer stalls the link for ~0.1 s.
  PacketRing(size_t slot_bytes, size_t initial_packets, size_t max_packets);

  size_t slot_bytes() const { return slot_bytes_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }

  // The slot the next push() will keep, to read a packet into; nullptr when the ring holds
  // its maximum. Valid until the next push() or pop().
  uint8_t* tail_slot();
  // Keeps the `length` bytes written into tail_slot().
  void push(size_t length, int64_t release_ns);

  Packet front() const;
  void pop();

 private:
  struct Meta {
    size_t length;
    int64_t release_ns;
  };
  size_t index(size_t i) const { return (head_ + i) & (capacity_ - 1); }
  void grow();

  size_t slot_bytes_;
  size_t max_capacity_;
  size_t capacity_;  // a power of two
  size_t head_ = 0;
  size_t count_ = 0;
  std::vector<uint8_t> bytes_;
  std::vector<Meta> meta_;
};

}  // namespace arsync::linkem
