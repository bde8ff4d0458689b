// Layout of every message (integers are unsigned LEB128 varints unless marked; see
// docs/DELTA.md):
//
//   Signature   u8 version, u8 chunk_bits, basis_size, 16-byte basis_root
//   Probe       u8 version, count (1 ..= kMaxProbeKeys), count x u64 little-endian key
//   Answer      u8 version, count (1 ..= kMaxProbeKeys), ceil(count / 8) bytes of bitmap
//               (bit i % 8 of byte i / 8: key i found; unused bits 0), then per key found:
//               zigzag(offset - previous found offset, from 0) << 1 | elsewhere,
//               [file (1 ..= kMaxSourceFile) if elsewhere]
//   RecipePart  u8 version, u8 flags (bit 0 last), op count (..= kMaxRecipeOps; 0 only in
//               a last part), ops, [total_size, 16-byte digest if last]
//   op          head = length << 2 | elsewhere << 1 | literal (length >= 1);
//               copy: [file (1 ..= kMaxSourceFile) if elsewhere],
//                     zigzag(offset - end of the previous copy in this part, from 0);
//               literal (elsewhere 0): length bytes, at most kMaxRecipeLiteral in a part
//
// Offsets and sizes are at most kMaxDeltaFileSize, and so is offset + length of a copy.
#include "merkle/delta_codec.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "fsio/wire_format.h"
#include "merkle/chunk_params.h"

namespace arsync::merkle {
namespace {

constexpr uint8_t kPartLast = 1 << 0;
constexpr uint64_t kOpLiteral = 1 << 0;
constexpr uint64_t kOpElsewhere = 1 << 1;

// offset - base for two values within [0, kMaxDeltaFileSize]: never overflows.
int64_t difference(uint64_t offset, uint64_t base) {
  return static_cast<int64_t>(offset) - static_cast<int64_t>(base);
}

void check_offset(uint64_t value, const char* what) {
  if (value > kMaxDeltaFileSize) {
    throw std::invalid_argument(std::string("delta codec: ") + what + " past 2^62 - 1");
  }
}

using fsio::wire::cat;
using fsio::wire::unzigzag;
using fsio::wire::Writer;
using fsio::wire::zigzag;

// The shared strict reader, with this codec's version and its offsets.
class Reader : public fsio::wire::Reader {
 public:
  using fsio::wire::Reader::Reader;
  using fsio::wire::Reader::version;

  bool version() { return version(kDeltaVersion); }

  // A zigzag offset delta from `base`, giving an offset within [0, kMaxDeltaFileSize].
  bool offset_from(std::string_view field, uint64_t zigzagged, uint64_t base, uint64_t& out) {
    if (failed()) return false;
    // zigzagged < 2^63 here, so the delta is within [-2^62, 2^62 - 1].
    const int64_t delta = unzigzag(zigzagged);
    const int64_t offset = static_cast<int64_t>(base) + delta;
    if (offset < 0 || static_cast<uint64_t>(offset) > kMaxDeltaFileSize) {
      return fail(field, "out of range");
    }
    out = static_cast<uint64_t>(offset);
    return true;
  }
};

}  // namespace

// ---- Signature ----

Bytes encode_signature(const Signature& signature) {
  Writer w(32);
  w.u8(kDeltaVersion);
  w.u8(signature.chunk_bits);
  w.varint(signature.basis_size);
  w.raw(signature.basis_root.data(), signature.basis_root.size());
  return w.take();
}

std::optional<Signature> decode_signature(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "signature");
  Signature s;
  if (!r.version() || !r.u8("chunk bits", s.chunk_bits)) return std::nullopt;
  if (s.chunk_bits < kMinChunkBits || s.chunk_bits > kMaxChunkBits) {
    r.fail("chunk bits",
           cat(unsigned{s.chunk_bits}, " outside [", kMinChunkBits, ", ", kMaxChunkBits, "]"));
    return std::nullopt;
  }
  if (!r.varint("basis size", kMaxDeltaFileSize, s.basis_size) ||
      !r.raw("basis root", s.basis_root.data(), s.basis_root.size()) || !r.finish()) {
    return std::nullopt;
  }
  return s;
}

// ---- Probe ----

Bytes encode_probe(const Probe& probe) {
  Writer w(4 + probe.keys.size() * 8);
  w.u8(kDeltaVersion);
  w.varint(probe.keys.size());
  for (uint64_t key : probe.keys) w.u64le(key);
  return w.take();
}

std::optional<Probe> decode_probe(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "probe");
  uint64_t count = 0;
  if (!r.version() || !r.varint_in("key count", 1, kMaxProbeKeys, count)) return std::nullopt;
  if (r.remaining() < count * 8) {
    r.fail("keys", cat("truncated (", count, " declared, room for ", r.remaining() / 8, ")"));
    return std::nullopt;
  }
  Probe probe;
  probe.keys.resize(count);
  for (uint64_t& key : probe.keys) r.u64le("key", key);
  if (!r.finish()) return std::nullopt;
  return probe;
}

// ---- Answer ----

Bytes encode_answer(const Answer& answer) {
  const size_t count = answer.found.size();
  Writer w(4 + (count + 7) / 8 + count * 3);
  w.u8(kDeltaVersion);
  w.varint(count);
  Bytes bitmap((count + 7) / 8, 0);
  for (size_t i = 0; i < count; ++i) {
    if (answer.found[i]) bitmap[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  }
  w.raw(bitmap.data(), bitmap.size());
  uint64_t previous = 0;
  for (const std::optional<Location>& at : answer.found) {
    if (!at) continue;
    check_offset(at->offset, "answer offset");
    const bool elsewhere = at->file != 0;
    w.varint(zigzag(difference(at->offset, previous)) << 1 | (elsewhere ? 1 : 0));
    if (elsewhere) w.varint(at->file);
    previous = at->offset;
  }
  return w.take();
}

std::optional<Answer> decode_answer(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "answer");
  uint64_t count = 0;
  if (!r.version() || !r.varint_in("key count", 1, kMaxProbeKeys, count)) return std::nullopt;
  std::span<const uint8_t> bitmap;
  if (!r.view("bitmap", (count + 7) / 8, bitmap)) return std::nullopt;
  if (count % 8 != 0 && (bitmap.back() >> (count % 8)) != 0) {
    r.fail("bitmap", "has bits set past the last key");
    return std::nullopt;
  }
  size_t found_count = 0;
  for (uint8_t byte : bitmap) found_count += static_cast<size_t>(std::popcount(byte));
  // Each location takes at least one byte.
  if (found_count > r.remaining()) {
    r.fail("locations",
           cat("truncated (", found_count, " declared, ", r.remaining(), " bytes left)"));
    return std::nullopt;
  }
  Answer answer;
  answer.found.resize(count);
  uint64_t previous = 0;
  for (size_t i = 0; i < count; ++i) {
    if (!(bitmap[i / 8] >> (i % 8) & 1)) continue;
    r.set_item("key", i);
    uint64_t head = 0;
    Location at;
    if (!r.varint("location", std::numeric_limits<uint64_t>::max(), head) ||
        !r.offset_from("offset", head >> 1, previous, at.offset)) {
      return std::nullopt;
    }
    if (head & 1) {
      uint64_t file = 0;
      if (!r.varint_in("file", 1, kMaxSourceFile, file)) return std::nullopt;
      at.file = static_cast<uint32_t>(file);
    }
    answer.found[i] = at;
    previous = at.offset;
  }
  if (!r.finish()) return std::nullopt;
  return answer;
}

// ---- RecipePart ----

Bytes encode_recipe_part(const RecipePart& part) {
  Writer w(32 + part.ops.size() * 4 + part.literals.size());
  w.u8(kDeltaVersion);
  w.u8(part.last ? kPartLast : 0);
  w.varint(part.ops.size());
  uint64_t copy_end = 0;
  for (const RecipeOp& op : part.ops) {
    check_offset(op.length, "op length");
    if (op.kind == RecipeOp::Kind::literal) {
      if (op.offset > part.literals.size() || op.length > part.literals.size() - op.offset) {
        throw std::invalid_argument("delta codec: literal op outside the part's literals");
      }
      w.varint(op.length << 2 | kOpLiteral);
      w.raw(part.literals.data() + op.offset, op.length);
      continue;
    }
    check_offset(op.offset, "copy offset");
    check_offset(op.offset + op.length, "copy end");
    const bool elsewhere = op.file != 0;
    w.varint(op.length << 2 | (elsewhere ? kOpElsewhere : 0));
    if (elsewhere) w.varint(op.file);
    w.varint(zigzag(difference(op.offset, copy_end)));
    copy_end = op.offset + op.length;
  }
  if (part.last) {
    w.varint(part.total_size);
    w.raw(part.digest.data(), part.digest.size());
  }
  return w.take();
}

std::optional<RecipePart> decode_recipe_part(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "recipe");
  RecipePart part;
  uint8_t flags = 0;
  uint64_t count = 0;
  if (!r.version() || !r.u8("flags", flags)) return std::nullopt;
  if (flags & ~kPartLast) {
    r.fail("flags", cat("has unknown bits (", static_cast<unsigned>(flags & ~kPartLast), ")"));
    return std::nullopt;
  }
  part.last = flags & kPartLast;
  if (!r.varint_in("op count", part.last ? 0 : 1, kMaxRecipeOps, count)) return std::nullopt;
  // Each op takes at least two bytes (head + offset, or head + one literal byte).
  part.ops.reserve(std::min<size_t>(count, r.remaining() / 2));
  uint64_t copy_end = 0;
  for (size_t i = 0; i < count; ++i) {
    r.set_item("op", i);
    uint64_t head = 0;
    if (!r.varint("head", std::numeric_limits<uint64_t>::max(), head)) return std::nullopt;
    RecipeOp op;
    op.length = head >> 2;  // at most 2^62 - 1 by construction
    if (op.length == 0) {
      r.fail("length", "is 0");
      return std::nullopt;
    }
    if (head & kOpLiteral) {
      op.kind = RecipeOp::Kind::literal;
      if (head & kOpElsewhere) {
        r.fail("head", "literal marked as elsewhere");
        return std::nullopt;
      }
      if (op.length > kMaxRecipeLiteral - part.literals.size()) {
        r.fail("literal", cat("too long (", part.literals.size(), " + ", op.length, " > ",
                              kMaxRecipeLiteral, " bytes in one part)"));
        return std::nullopt;
      }
      std::span<const uint8_t> bytes;
      if (!r.view("literal", static_cast<size_t>(op.length), bytes)) return std::nullopt;
      op.offset = part.literals.size();
      part.literals.insert(part.literals.end(), bytes.begin(), bytes.end());
    } else {
      if (head & kOpElsewhere) {
        uint64_t file = 0;
        if (!r.varint_in("file", 1, kMaxSourceFile, file)) return std::nullopt;
        op.file = static_cast<uint32_t>(file);
      }
      uint64_t delta = 0;
      if (!r.varint("offset", std::numeric_limits<uint64_t>::max(), delta)) return std::nullopt;
      if (delta >> 63) {
        r.fail("offset", "out of range");
        return std::nullopt;
      }
      if (!r.offset_from("offset", delta, copy_end, op.offset)) return std::nullopt;
      if (op.length > kMaxDeltaFileSize - op.offset) {
        r.fail("copy", "ends past 2^62 - 1");
        return std::nullopt;
      }
      copy_end = op.offset + op.length;
    }
    part.ops.push_back(op);
  }
  if (part.last) {
    r.set_item(nullptr, 0);
    if (!r.varint("total size", kMaxDeltaFileSize, part.total_size) ||
        !r.raw("digest", part.digest.data(), part.digest.size())) {
      return std::nullopt;
    }
  }
  if (!r.finish()) return std::nullopt;
  return part;
}

}  // namespace arsync::merkle
