// The byte-level building blocks of arsync's binary encodings (the data-plane messages in
// dataplane/wire_codec.cpp, the delta messages in merkle/delta_codec.cpp): LEB128 varints,
// zigzag, and a strict reader for input from the peer. The reader checks every length
// against what is left before it is used, refuses non-minimal varints, and turns the first
// problem into an error ("<context>[ <item> N]: <field> <what>") after which every read
// fails: decoders then give up without a crash and with a reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace arsync::fsio::wire {

inline constexpr size_t kMaxVarintBytes = 10;

// Builds a message from pieces; integers are written in decimal. (Appending instead of
// operator+ also keeps GCC 12 at -O3 from a false -Wrestrict, GCC PR 105329.)
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  auto add = [&out](const auto& part) {
    if constexpr (std::is_integral_v<std::decay_t<decltype(part)>>) {
      out += std::to_string(part);
    } else {
      out += std::string_view(part);
    }
  };
  (add(parts), ...);
  return out;
}

inline uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

inline int64_t unzigzag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

class Writer {
 public:
  explicit Writer(size_t reserve) { out_.reserve(reserve); }

  void u8(uint8_t v) { out_.push_back(v); }

  void varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(v));
  }

  void u64le(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }

  void raw(const void* data, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), p, p + size);
  }

  // A varint byte length, then the bytes.
  void string(std::string_view s) {
    varint(s.size());
    raw(s.data(), s.size());
  }

  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class Reader {
 public:
  Reader(std::span<const uint8_t> in, std::string& error, const char* context)
      : in_(in), error_(error), context_(context) {
    error_.clear();
  }

  // Messages name the item ("batch entry 3: ...") from here on, until finish().
  void set_item(const char* name, size_t index) {
    item_name_ = name;
    item_ = index;
  }

  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool failed() const { return failed_; }

  bool fail(std::string_view field, const std::string& what) {
    if (failed_) return false;
    failed_ = true;
    error_ = context_;
    if (item_name_) error_ += cat(" ", item_name_, " ", item_);
    error_ += ": ";
    error_ += field;
    if (!what.empty()) {
      error_ += ' ';
      error_ += what;
    }
    return false;
  }

  bool u8(std::string_view field, uint8_t& out) {
    if (failed_) return false;
    if (remaining() < 1) return fail(field, "truncated");
    out = in_[pos_++];
    return true;
  }

  bool varint(std::string_view field, uint64_t max, uint64_t& out) {
    if (failed_) return false;
    uint64_t value = 0;
    for (size_t i = 0;; ++i) {
      if (i == kMaxVarintBytes) return fail(field, "varint longer than 10 bytes");
      if (pos_ >= in_.size()) return fail(field, "truncated");
      uint8_t byte = in_[pos_++];
      uint64_t bits = byte & 0x7f;
      // The tenth byte holds bit 63 only.
      if (i == kMaxVarintBytes - 1 && bits > 1) return fail(field, "varint overflows 64 bits");
      value |= bits << (7 * i);
      if (!(byte & 0x80)) {
        if (byte == 0 && i > 0) return fail(field, "varint not minimal");
        break;
      }
    }
    if (value > max) return fail(field, cat("too large (", value, " > ", max, ")"));
    out = value;
    return true;
  }

  template <typename T>
  bool varint_as(std::string_view field, T& out, uint64_t max = std::numeric_limits<T>::max()) {
    uint64_t value = 0;
    if (!varint(field, max, value)) return false;
    out = static_cast<T>(value);
    return true;
  }

  // A varint within [min, max].
  bool varint_in(std::string_view field, uint64_t min, uint64_t max, uint64_t& out) {
    if (!varint(field, max, out)) return false;
    if (out < min) return fail(field, cat("too small (", out, " < ", min, ")"));
    return true;
  }

  bool u64le(std::string_view field, uint64_t& out) {
    if (failed_) return false;
    if (remaining() < 8) return fail(field, "truncated");
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v |= uint64_t{in_[pos_ + i]} << (8 * i);
    pos_ += 8;
    out = v;
    return true;
  }

  bool raw(std::string_view field, void* out, size_t size) {
    if (failed_) return false;
    if (remaining() < size) return fail(field, "truncated");
    if (size) std::memcpy(out, in_.data() + pos_, size);
    pos_ += size;
    return true;
  }

  // `size` bytes, seen in place; only after checking that the input holds them.
  bool view(std::string_view field, size_t size, std::span<const uint8_t>& out) {
    if (failed_) return false;
    if (remaining() < size) {
      return fail(field, cat("truncated (", size, " bytes declared, ", remaining(), " left)"));
    }
    out = in_.subspan(pos_, size);
    pos_ += size;
    return true;
  }

  // A varint byte length of at most `max`, then that many bytes, seen in place.
  bool string_view(std::string_view field, size_t max, std::span<const uint8_t>& out) {
    uint64_t size = 0;
    if (!varint(field, std::numeric_limits<uint64_t>::max(), size)) return false;
    if (size > max) return fail(field, cat("too long (", size, " > ", max, ")"));
    return view(field, static_cast<size_t>(size), out);
  }

  bool version(uint8_t expected) {
    uint8_t v = 0;
    if (!u8("version", v)) return false;
    if (v != expected) {
      return fail("version", cat(unsigned{v}, " unsupported (expected ", unsigned{expected}, ")"));
    }
    return true;
  }

  bool flags(std::string_view field, uint8_t known, uint8_t& out) {
    if (!u8(field, out)) return false;
    if (out & ~known) return fail(field, cat("has unknown bits (", hex(out & ~known), ")"));
    return true;
  }

  bool finish() {
    if (failed_) return false;
    item_name_ = nullptr;
    if (remaining() != 0) return fail("trailing garbage", cat("(", remaining(), " bytes)"));
    return true;
  }

  static std::string hex(unsigned v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string s = "0x";
    s += kDigits[(v >> 4) & 0xf];
    s += kDigits[v & 0xf];
    return s;
  }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  std::string& error_;
  const char* context_;
  const char* item_name_ = nullptr;
  size_t item_ = 0;
  bool failed_ = false;
};

}  // namespace arsync::fsio::wire
