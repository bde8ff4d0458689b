#include "bench/linkem/packet_ring.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

namespace arsync::linkem {

PacketRing::PacketRing(size_t slot_bytes, size_t initial_packets, size_t max_packets)
    : slot_bytes_(slot_bytes),
      max_capacity_(std::bit_ceil(std::max<size_t>(max_packets, 1))),
      capacity_(std::min(std::bit_ceil(std::max<size_t>(initial_packets, 1)), max_capacity_)),
      bytes_(capacity_ * slot_bytes_),  // zero-filled: every page touched now
      meta_(capacity_) {
  if (slot_bytes == 0) throw std::invalid_argument("PacketRing: slot size 0");
}

uint8_t* PacketRing::tail_slot() {
  if (count_ == capacity_) {
    if (capacity_ == max_capacity_) return nullptr;
    grow();
  }
  return bytes_.data() + index(count_) * slot_bytes_;
}

void PacketRing::push(size_t length, int64_t release_ns) {
  // tail_slot() made room; the caller wrote at most slot_bytes_ into it.
  meta_[index(count_)] = {length, release_ns};
  ++count_;
}

PacketRing::Packet PacketRing::front() const {
  const Meta& meta = meta_[head_];
  return {bytes_.data() + head_ * slot_bytes_, meta.length, meta.release_ns};
}

void PacketRing::pop() {
  head_ = index(1);
  --count_;
}

void PacketRing::grow() {
  // Unrolls the FIFO to the start of the new buffer. Doubling keeps the total copying linear.
  const size_t capacity = capacity_ * 2;
  std::vector<uint8_t> bytes(capacity * slot_bytes_);
  std::vector<Meta> meta(capacity);
  for (size_t i = 0; i < count_; ++i) {
    const size_t from = index(i);
    std::memcpy(bytes.data() + i * slot_bytes_, bytes_.data() + from * slot_bytes_,
                meta_[from].length);
    meta[i] = meta_[from];
  }
  bytes_ = std::move(bytes);
  meta_ = std::move(meta);
  capacity_ = capacity;
  head_ = 0;
}

}  // namespace arsync::linkem
