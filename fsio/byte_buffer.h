// Heap bytes that are not zeroed first, with spare room before and after them. File content
// moves through these: read() fills one directly, a transport writes its headers into the
// room in front and its trailer into the room behind, and the whole frame goes out in one
// write with no copy; a frame read off the wire becomes the content by moving where the
// data starts. Zeroing a 256 KiB buffer that read() is about to overwrite cost more CPU
// than the read itself.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

namespace arsync::fsio {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  // `size` uninitialised bytes, with `front` and `back` spare bytes around them.
  explicit ByteBuffer(size_t size, size_t front = 0, size_t back = 0)
      : storage_(std::make_unique_for_overwrite<uint8_t[]>(front + size + back)),
        capacity_(front + size + back),
        begin_(front),
        size_(size) {}

  static ByteBuffer copy_of(std::span<const uint8_t> bytes, size_t front = 0, size_t back = 0) {
    ByteBuffer buffer(bytes.size(), front, back);
    if (!bytes.empty()) std::memcpy(buffer.data(), bytes.data(), bytes.size());
    return buffer;
  }
  static ByteBuffer copy_of(std::string_view text) {
    return copy_of({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }

  ByteBuffer(ByteBuffer&& other) noexcept { *this = std::move(other); }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    storage_ = std::move(other.storage_);
    capacity_ = std::exchange(other.capacity_, 0);
    begin_ = std::exchange(other.begin_, 0);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }

  uint8_t* data() { return storage_.get() + begin_; }
  const uint8_t* data() const { return storage_.get() + begin_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t& operator[](size_t i) { return data()[i]; }
  uint8_t operator[](size_t i) const { return data()[i]; }
  const uint8_t* begin() const { return data(); }
  const uint8_t* end() const { return data() + size_; }
  operator std::span<const uint8_t>() const { return {data(), size_}; }
  std::span<uint8_t> bytes() { return {data(), size_}; }
  std::string_view text() const { return {reinterpret_cast<const char*>(data()), size_}; }

  friend bool operator==(const ByteBuffer& a, const ByteBuffer& b) {
    return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data(), b.data(), a.size_) == 0);
  }

  size_t front_room() const { return begin_; }
  size_t back_room() const { return capacity_ - begin_ - size_; }

  // The first n bytes become spare room (a header that has been parsed).
  void drop_front(size_t n) {
    assert(n <= size_);
    begin_ += n;
    size_ -= n;
  }
  // n bytes of the room in front join the data (a header about to be written there).
  void grow_front(size_t n) {
    assert(n <= begin_);
    begin_ -= n;
    size_ += n;
  }
  // Keeps the first n bytes.
  void shrink(size_t n) {
    assert(n <= size_);
    size_ = n;
  }
  // n bytes of the room behind join the data (a trailer about to be written there).
  void grow_back(size_t n) {
    assert(n <= back_room());
    size_ += n;
  }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t size_ = 0;
};

}  // namespace arsync::fsio
