// Layout of every message (all integers are unsigned LEB128 varints unless marked u8;
// strings are a varint byte length followed by the bytes; see docs/PROTOCOL.md):
//
//   DirBatch       u8 batch version (2), u8 flags (bit 0 complete), string dir, varint count,
//                  count x entry
//   entry          varint shared, string suffix (the leaf name, path = join(dir, name), is
//                  the first `shared` bytes of the previous entry's name + suffix),
//                  u8 kind (bits 0-2 type, bit 3 maybe_sparse, bit 4 has_digest,
//                           bit 5 hardlink_group present, bit 6 digest_follows),
//                  u8 same (bit 0 mode, 1 uid, 2 gid, 3 size, 4 mtime sec, 5 mtime nsec:
//                           as the previous entry's; bit 6 id as expected),
//                  [mode], [uid], [gid], [size] (each unless same), [rdev if device],
//                  [zigzag(mtime sec - previous)], [mtime nsec] (unless same), [id],
//                  [hardlink_group if bit 5], [16-byte digest if bit 4],
//                  [string link_target if symlink]
//                  The first entry's "previous" is all zero and an empty name; the expected
//                  id is 0 for a non-regular entry, and for a regular one 1 + the id of the
//                  batch's previous regular entry (0 before the first).
//   ContentRequest u8 version, varint count, count x varint id
//   ContentChunk   u8 version, id, offset, u8 flags (bit 0 last), string data,
//                  [16-byte digest if last]
//   ContentFailed  u8 version, id, u8 flags (bit 0 vanished, bit 1 digest), string message
//   ContentDigest  u8 version, id, 16-byte digest
//   DeltaMessage   u8 version, id, string message (1 ..= kMaxDeltaMessage bytes)
//
// Encodings are canonical: varints must be minimal, unknown flag bits are rejected,
// optional fields appear exactly when their flag says so, a name shares the longest prefix
// it can, and a field that equals the previous entry's (or the expected id) is never sent,
// so every accepted input is byte-for-byte what the encoder makes of its decoded value.
//
// The encoders trust their input except where it cannot be represented: encode_batch throws
// std::invalid_argument for an entry that is not directly inside batch.dir, and
// encode_failed cuts the message to kMaxMessageText bytes. Anything else out of range
// (a mode above 07777, a 5 MiB chunk...) is encoded as it is and refused by the decoder.
#include "dataplane/wire_codec.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <type_traits>

#include "fsio/relative_path.h"
#include "fsio/wire_format.h"

namespace arsync::dataplane {
namespace {

constexpr uint32_t kMaxNsec = 999'999'999;
constexpr uint32_t kMaxMode = 07777;
constexpr uint8_t kTypeCount = 7;  // FileType::regular .. FileType::block_device

constexpr uint8_t kBatchComplete = 1 << 0;
constexpr uint8_t kEntryTypeMask = 0x07;
constexpr uint8_t kEntrySparse = 1 << 3;
constexpr uint8_t kEntryDigest = 1 << 4;
constexpr uint8_t kEntryHardlink = 1 << 5;
constexpr uint8_t kEntryDigestFollows = 1 << 6;
// DirBatch entries: the fields that repeat the previous entry's value.
constexpr uint8_t kSameMode = 1 << 0;
constexpr uint8_t kSameUid = 1 << 1;
constexpr uint8_t kSameGid = 1 << 2;
constexpr uint8_t kSameSize = 1 << 3;
constexpr uint8_t kSameSec = 1 << 4;
constexpr uint8_t kSameNsec = 1 << 5;
constexpr uint8_t kExpectedId = 1 << 6;
constexpr uint8_t kSameMask = 0x7f;
constexpr uint8_t kChunkLast = 1 << 0;
constexpr uint8_t kFailedVanished = 1 << 0;
constexpr uint8_t kFailedDigest = 1 << 1;

// The fewest bytes one entry can take: shared, suffix length, kind, same. Bounds what a
// count may reserve.
constexpr size_t kMinEntryBytes = 4;

using fsio::wire::cat;
using fsio::wire::kMaxVarintBytes;
using fsio::wire::unzigzag;
using fsio::wire::Writer;
using fsio::wire::zigzag;

// The shared strict reader, with this codec's version and its length-prefixed strings.
class Reader : public fsio::wire::Reader {
 public:
  using fsio::wire::Reader::Reader;
  using fsio::wire::Reader::version;

  bool version() { return version(kCodecVersion); }
  // Messages name the entry ("batch entry 3: ...") from here on.
  void set_entry(size_t index) { set_item("entry", index); }

  // A length-prefixed byte string of at most `max` bytes; `out` is assigned only once the
  // length has been checked against both the limit and what is left of the input. A
  // std::string_view `out` points into the input.
  template <typename Container>
  bool string(std::string_view field, size_t max, Container& out) {
    std::span<const uint8_t> bytes;
    if (!string_view(field, max, bytes)) return false;
    const auto* p = reinterpret_cast<const char*>(bytes.data());
    out = Container(p, p + bytes.size());
    return true;
  }

  // The same, skipped: `offset` and `size` say where it lies in the input.
  bool skip_string(std::string_view field, size_t max, size_t& offset, size_t& size) {
    std::span<const uint8_t> bytes;
    if (!string_view(field, max, bytes)) return false;
    size = bytes.size();
    offset = position() - size;
    return true;
  }
};

std::string octal(uint64_t v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + (v & 7)));
    v >>= 3;
  } while (v != 0);
  return cat("0", s);
}

// The name an entry travels under: its path with batch.dir and the '/' after it removed.
std::string_view leaf_of(const fsio::DirBatch& batch, const fsio::FileEntry& entry) {
  std::string_view path = entry.path;
  std::string_view dir = batch.dir;
  if (!dir.empty()) {
    if (path.size() <= dir.size() || path.compare(0, dir.size(), dir) != 0 ||
        path[dir.size()] != '/') {
      throw std::invalid_argument(
          cat("encode_batch: entry \"", entry.path, "\" is not inside \"", batch.dir, "\""));
    }
    path.remove_prefix(dir.size() + 1);
  }
  if (path.find('/') != std::string_view::npos) {
    throw std::invalid_argument(
        cat("encode_batch: entry \"", entry.path, "\" is not directly inside \"", batch.dir, "\""));
  }
  return path;
}

bool check_name(Reader& r, std::string_view name, const fsio::DirBatch& batch, bool& seen_root) {
  if (name.empty()) return r.fail("name", "is empty");
  if (name.find('\0') != std::string_view::npos) return r.fail("name", "contains NUL");
  if (name.find('/') != std::string_view::npos) return r.fail("name", "contains '/'");
  if (name == "..") return r.fail("name", "is \"..\"");
  if (name == ".") {
    if (!batch.dir.empty() || batch.complete) {
      return r.fail("name", "\".\" outside the root batch");
    }
    if (seen_root) return r.fail("name", "\".\" repeated");
    seen_root = true;
  }
  size_t path_size = batch.dir.empty() ? name.size() : batch.dir.size() + 1 + name.size();
  if (path_size > fsio::kMaxPathLength) {
    return r.fail("path", cat("too long (", path_size, " > ", fsio::kMaxPathLength, ")"));
  }
  return true;
}

// What an entry is encoded against: the previous entry of its batch.
struct EntryContext {
  std::string_view name;  // the previous entry's leaf name
  const fsio::FileEntry* previous = nullptr;
  uint64_t last_id = 0;  // the id of the batch's previous regular entry

  uint64_t expected_id(const fsio::FileEntry& e) const { return e.is_regular() ? last_id + 1 : 0; }
  void advance(std::string_view leaf, const fsio::FileEntry& e) {
    name = leaf;
    previous = &e;
    if (e.is_regular()) last_id = e.id;
  }
};

size_t shared_prefix(std::string_view a, std::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// A field sent because it differs from the previous entry's value: equal is not canonical.
template <typename T>
bool read_changed(Reader& r, std::string_view field, T previous, T& out,
                  uint64_t max = std::numeric_limits<T>::max()) {
  if (!r.varint_as(field, out, max)) return false;
  if (out == previous) return r.fail(field, "repeats the previous entry's");
  return true;
}

bool decode_entry(Reader& r, const fsio::DirBatch& batch, EntryContext& ctx, bool& seen_root,
                  fsio::FileEntry& e, std::string& name) {
  size_t shared = 0;
  if (!r.varint_as("name shared", shared, ctx.name.size())) return false;
  std::string_view suffix;
  if (!r.string("name", fsio::kMaxNameLength - shared, suffix)) return false;
  if (!suffix.empty() && shared < ctx.name.size() && suffix[0] == ctx.name[shared]) {
    return r.fail("name shared", "shorter than the common prefix");
  }
  name.assign(ctx.name.substr(0, shared));
  name.append(suffix);
  if (!check_name(r, name, batch, seen_root)) return false;
  e.path = fsio::join_path(batch.dir, name);

  uint8_t kind = 0;
  if (!r.flags("kind",
               kEntryTypeMask | kEntrySparse | kEntryDigest | kEntryHardlink | kEntryDigestFollows,
               kind)) {
    return false;
  }
  uint8_t type = kind & kEntryTypeMask;
  if (type >= kTypeCount) return r.fail("type", cat(unsigned{type}, " unknown"));
  e.type = static_cast<fsio::FileType>(type);
  e.maybe_sparse = kind & kEntrySparse;
  e.has_digest = kind & kEntryDigest;
  // -c's digest (the content's merkle root) describes a regular file's content only.
  e.digest_follows = kind & kEntryDigestFollows;
  if ((e.has_digest || e.digest_follows) && !e.is_regular())
    return r.fail("kind", "digest on a non-regular file");
  if (e.has_digest && e.digest_follows) return r.fail("kind", "digest both listed and to follow");

  uint8_t same = 0;
  if (!r.flags("same", kSameMask, same)) return false;
  static const fsio::FileEntry kNone;
  const fsio::FileEntry& prev = ctx.previous ? *ctx.previous : kNone;
  e.mode = prev.mode;
  e.uid = prev.uid;
  e.gid = prev.gid;
  e.size = prev.size;
  e.mtime = prev.mtime;
  if (!(same & kSameMode)) {
    uint64_t mode = 0;
    if (!r.varint("mode", std::numeric_limits<uint64_t>::max(), mode)) return false;
    if (mode > kMaxMode) return r.fail("mode", cat("too large (", octal(mode), " > 07777)"));
    if (mode == prev.mode) return r.fail("mode", "repeats the previous entry's");
    e.mode = static_cast<uint32_t>(mode);
  }
  if (!(same & kSameUid) && !read_changed(r, "uid", prev.uid, e.uid)) return false;
  if (!(same & kSameGid) && !read_changed(r, "gid", prev.gid, e.gid)) return false;
  if (!(same & kSameSize) && !read_changed(r, "size", prev.size, e.size)) return false;
  if (e.is_device() && !r.varint_as("rdev", e.rdev)) return false;
  if (!(same & kSameSec)) {
    uint64_t delta = 0;
    if (!r.varint("mtime sec", std::numeric_limits<uint64_t>::max(), delta)) return false;
    if (delta == 0) return r.fail("mtime sec", "repeats the previous entry's");
    // Two's complement wrap-around: every delta gives one time, and every time one delta.
    e.mtime.sec = static_cast<int64_t>(static_cast<uint64_t>(prev.mtime.sec) +
                                       static_cast<uint64_t>(unzigzag(delta)));
  }
  if (!(same & kSameNsec) &&
      !read_changed(r, "mtime nsec", prev.mtime.nsec, e.mtime.nsec, kMaxNsec)) {
    return false;
  }
  const uint64_t expected_id = ctx.expected_id(e);
  if (same & kExpectedId) {
    e.id = expected_id;
  } else {
    if (!r.varint_as("id", e.id)) return false;
    if (e.id == expected_id) return r.fail("id", "is the expected one");
  }
  if ((kind & kEntryHardlink) &&
      !r.varint_as("hardlink group", e.hardlink_group, fsio::FileEntry::kNoLink - 1)) {
    return false;
  }
  if (e.has_digest && !r.raw("digest", e.digest.data(), e.digest.size())) return false;
  if (e.is_symlink()) {
    if (!r.string("link target", fsio::kMaxPathLength, e.link_target)) return false;
    if (e.link_target.empty()) return r.fail("link target", "is empty");
    if (e.link_target.find('\0') != std::string::npos) {
      return r.fail("link target", "contains NUL");
    }
  }
  return true;
}

// The chunk header: everything before the data's bytes.
size_t write_chunk_header(const engine::ContentChunk& chunk, uint8_t* out) {
  uint8_t* p = out;
  auto varint = [&p](uint64_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<uint8_t>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<uint8_t>(v);
  };
  *p++ = kCodecVersion;
  varint(chunk.id);
  varint(chunk.offset);
  *p++ = chunk.last ? kChunkLast : 0;
  varint(chunk.data.size());
  return static_cast<size_t>(p - out);
}

constexpr size_t kMaxChunkHeader = 1 + 3 * kMaxVarintBytes + 1;
static_assert(kMaxChunkHeader <= kChunkFrontRoom - kFrameRoom);

// Parses a chunk; its data is left in the input at [data_offset, data_offset + data_size).
bool decode_chunk_fields(std::span<const uint8_t> in, std::string& error,
                         engine::ContentChunk& chunk, size_t& data_offset, size_t& data_size) {
  Reader r(in, error, "chunk");
  uint8_t flags = 0;
  if (!r.version() || !r.varint_as("id", chunk.id) || !r.varint_as("offset", chunk.offset)) {
    return false;
  }
  if (chunk.id == 0) return r.fail("id", "is 0");
  if (!r.flags("flags", kChunkLast, flags)) return false;
  chunk.last = flags & kChunkLast;
  if (!r.skip_string("data", kMaxChunkData, data_offset, data_size)) return false;
  if (data_size > std::numeric_limits<uint64_t>::max() - chunk.offset) {
    return r.fail("offset", "+ data length overflows 64 bits");
  }
  if (chunk.last && !r.raw("digest", chunk.digest.data(), chunk.digest.size())) return false;
  return r.finish();
}

}  // namespace

Bytes encode_batch(const fsio::DirBatch& batch) {
  Writer w(8 + batch.dir.size() + batch.entries.size() * 12);
  w.u8(kBatchVersion);
  w.u8(batch.complete ? kBatchComplete : 0);
  w.string(batch.dir);
  w.varint(batch.entries.size());
  static const fsio::FileEntry kNone;
  EntryContext ctx;
  for (const fsio::FileEntry& e : batch.entries) {
    const std::string_view name = leaf_of(batch, e);
    const size_t shared = shared_prefix(ctx.name, name);
    w.varint(shared);
    w.string(name.substr(shared));
    bool hardlink = e.hardlink_group != fsio::FileEntry::kNoLink;
    uint8_t kind = static_cast<uint8_t>(static_cast<uint8_t>(e.type) & kEntryTypeMask);
    if (e.maybe_sparse) kind |= kEntrySparse;
    if (e.has_digest) kind |= kEntryDigest;
    if (hardlink) kind |= kEntryHardlink;
    if (e.digest_follows) kind |= kEntryDigestFollows;
    w.u8(kind);
    const fsio::FileEntry& prev = ctx.previous ? *ctx.previous : kNone;
    const uint64_t expected_id = ctx.expected_id(e);
    uint8_t same = 0;
    if (e.mode == prev.mode) same |= kSameMode;
    if (e.uid == prev.uid) same |= kSameUid;
    if (e.gid == prev.gid) same |= kSameGid;
    if (e.size == prev.size) same |= kSameSize;
    if (e.mtime.sec == prev.mtime.sec) same |= kSameSec;
    if (e.mtime.nsec == prev.mtime.nsec) same |= kSameNsec;
    if (e.id == expected_id) same |= kExpectedId;
    w.u8(same);
    if (!(same & kSameMode)) w.varint(e.mode);
    if (!(same & kSameUid)) w.varint(e.uid);
    if (!(same & kSameGid)) w.varint(e.gid);
    if (!(same & kSameSize)) w.varint(e.size);
    if (e.is_device()) w.varint(e.rdev);
    if (!(same & kSameSec)) {
      w.varint(zigzag(static_cast<int64_t>(static_cast<uint64_t>(e.mtime.sec) -
                                           static_cast<uint64_t>(prev.mtime.sec))));
    }
    if (!(same & kSameNsec)) w.varint(e.mtime.nsec);
    if (!(same & kExpectedId)) w.varint(e.id);
    if (hardlink) w.varint(e.hardlink_group);
    if (e.has_digest) w.raw(e.digest.data(), e.digest.size());
    if (e.is_symlink()) w.string(e.link_target);
    ctx.advance(name, e);
  }
  return w.take();
}

std::optional<fsio::DirBatch> decode_batch(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "batch");
  fsio::DirBatch batch;
  uint8_t flags = 0;
  if (!r.version(kBatchVersion) || !r.flags("flags", kBatchComplete, flags)) return std::nullopt;
  batch.complete = flags & kBatchComplete;
  if (!r.string("dir", fsio::kMaxPathLength, batch.dir)) return std::nullopt;
  if (!batch.dir.empty() && !fsio::is_safe_relative_path(batch.dir)) {
    r.fail("dir", "is not a safe relative path");
    return std::nullopt;
  }
  size_t count = 0;
  if (!r.varint_as("entry count", count, kMaxBatchEntries)) return std::nullopt;
  // A count is a claim, not a size: reserve only what the input could possibly hold.
  batch.entries.reserve(std::min(count, r.remaining() / kMinEntryBytes));
  bool seen_root = false;
  EntryContext ctx;
  std::string names[2];  // this entry's leaf name and the previous one's
  for (size_t i = 0; i < count; ++i) {
    r.set_entry(i);
    fsio::FileEntry& e = batch.entries.emplace_back();
    std::string& name = names[i % 2];
    // emplace_back may move the entries: the previous one is found again by index.
    ctx.previous = i == 0 ? nullptr : &batch.entries[i - 1];
    if (!decode_entry(r, batch, ctx, seen_root, e, name)) return std::nullopt;
    ctx.advance(name, e);
  }
  if (!r.finish()) return std::nullopt;
  return batch;
}

Bytes encode_request(const engine::ContentRequest& request) {
  Writer w(8 + request.ids.size() * 4);
  w.u8(kCodecVersion);
  w.varint(request.ids.size());
  for (uint64_t id : request.ids) w.varint(id);
  return w.take();
}

std::optional<engine::ContentRequest> decode_request(std::span<const uint8_t> in,
                                                     std::string& error) {
  Reader r(in, error, "request");
  engine::ContentRequest request;
  size_t count = 0;
  if (!r.version() || !r.varint_as("id count", count, kMaxRequestIds)) return std::nullopt;
  request.ids.reserve(std::min(count, r.remaining()));
  for (size_t i = 0; i < count; ++i) {
    r.set_entry(i);
    uint64_t id = 0;
    if (!r.varint_as("id", id)) return std::nullopt;
    if (id == 0) {
      r.fail("id", "is 0");
      return std::nullopt;
    }
    request.ids.push_back(id);
  }
  if (!r.finish()) return std::nullopt;
  return request;
}

Bytes encode_chunk(const engine::ContentChunk& chunk) {
  uint8_t header[kMaxChunkHeader];
  const size_t header_size = write_chunk_header(chunk, header);
  Bytes out;
  out.reserve(header_size + chunk.data.size() + sizeof chunk.digest);
  out.insert(out.end(), header, header + header_size);
  out.insert(out.end(), chunk.data.begin(), chunk.data.end());
  if (chunk.last) out.insert(out.end(), chunk.digest.begin(), chunk.digest.end());
  return out;
}

fsio::ByteBuffer encode_chunk_payload(engine::ContentChunk&& chunk) {
  uint8_t header[kMaxChunkHeader];
  const size_t header_size = write_chunk_header(chunk, header);
  const size_t trailer_size = chunk.last ? sizeof chunk.digest : 0;
  fsio::ByteBuffer out = std::move(chunk.data);
  if (out.front_room() < header_size + kFrameRoom || out.back_room() < trailer_size) {
    out = fsio::ByteBuffer::copy_of(out, kChunkFrontRoom, kChunkBackRoom);
  }
  out.grow_front(header_size);
  std::memcpy(out.data(), header, header_size);
  if (trailer_size) {
    out.grow_back(trailer_size);
    std::memcpy(out.data() + out.size() - trailer_size, chunk.digest.data(), trailer_size);
  }
  return out;
}

std::optional<engine::ContentChunk> decode_chunk(std::span<const uint8_t> in, std::string& error) {
  engine::ContentChunk chunk;
  size_t offset = 0;
  size_t size = 0;
  if (!decode_chunk_fields(in, error, chunk, offset, size)) return std::nullopt;
  chunk.data = fsio::ByteBuffer::copy_of(in.subspan(offset, size));
  return chunk;
}

std::optional<engine::ContentChunk> decode_chunk(fsio::ByteBuffer&& in, std::string& error) {
  engine::ContentChunk chunk;
  size_t offset = 0;
  size_t size = 0;
  if (!decode_chunk_fields(in, error, chunk, offset, size)) return std::nullopt;
  chunk.data = std::move(in);
  chunk.data.drop_front(offset);
  chunk.data.shrink(size);
  return chunk;
}

Bytes encode_failed(const engine::ContentFailed& failed) {
  std::string_view message = failed.message;
  if (message.size() > kMaxMessageText) message = message.substr(0, kMaxMessageText);
  Writer w(16 + message.size());
  w.u8(kCodecVersion);
  w.varint(failed.id);
  w.u8(static_cast<uint8_t>((failed.vanished ? kFailedVanished : 0) |
                            (failed.digest ? kFailedDigest : 0)));
  w.string(message);
  return w.take();
}

Bytes encode_content_end(uint64_t file_streams) {
  Writer w(1 + kMaxVarintBytes);
  w.u8(kCodecVersion);
  w.varint(file_streams);
  return w.take();
}

std::optional<uint64_t> decode_content_end(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "content_end");
  uint64_t file_streams = 0;
  if (!r.version() || !r.varint("file streams", kMaxFileStreamCount, file_streams) || !r.finish()) {
    return std::nullopt;
  }
  return file_streams;
}

std::optional<engine::ContentFailed> decode_failed(std::span<const uint8_t> in,
                                                   std::string& error) {
  Reader r(in, error, "failed");
  engine::ContentFailed failed;
  uint8_t flags = 0;
  if (!r.version() || !r.varint_as("id", failed.id)) return std::nullopt;
  if (failed.id == 0) {
    r.fail("id", "is 0");
    return std::nullopt;
  }
  if (!r.flags("flags", kFailedVanished | kFailedDigest, flags)) return std::nullopt;
  failed.vanished = flags & kFailedVanished;
  failed.digest = flags & kFailedDigest;
  if (!r.string("message", kMaxMessageText, failed.message)) return std::nullopt;
  if (!r.finish()) return std::nullopt;
  return failed;
}

Bytes encode_digest(const engine::ContentDigest& digest) {
  Writer w(32);
  w.u8(kCodecVersion);
  w.varint(digest.id);
  w.raw(digest.digest.data(), digest.digest.size());
  return w.take();
}

std::optional<engine::ContentDigest> decode_digest(std::span<const uint8_t> in,
                                                   std::string& error) {
  Reader r(in, error, "digest");
  engine::ContentDigest out;
  if (!r.version() || !r.varint_as("id", out.id)) return std::nullopt;
  if (out.id == 0) {
    r.fail("id", "is 0");
    return std::nullopt;
  }
  if (!r.raw("digest", out.digest.data(), out.digest.size()) || !r.finish()) return std::nullopt;
  return out;
}

Bytes encode_delta(const DeltaMessage& message) {
  Writer w(16 + message.message.size());
  w.u8(kCodecVersion);
  w.varint(message.id);
  w.varint(message.message.size());
  w.raw(message.message.data(), message.message.size());
  return w.take();
}

std::optional<DeltaMessage> decode_delta(std::span<const uint8_t> in, std::string& error) {
  Reader r(in, error, "delta");
  DeltaMessage out;
  if (!r.version() || !r.varint_as("id", out.id)) return std::nullopt;
  if (out.id == 0) {
    r.fail("id", "is 0");
    return std::nullopt;
  }
  size_t offset = 0;
  size_t size = 0;
  if (!r.skip_string("message", kMaxDeltaMessage, offset, size)) return std::nullopt;
  if (size == 0) {
    r.fail("message", "is empty");
    return std::nullopt;
  }
  if (!r.finish()) return std::nullopt;
  out.message.assign(in.begin() + static_cast<ptrdiff_t>(offset),
                     in.begin() + static_cast<ptrdiff_t>(offset + size));
  return out;
}

}  // namespace arsync::dataplane
