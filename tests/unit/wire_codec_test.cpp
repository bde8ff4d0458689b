#include "dataplane/wire_codec.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "fsio/relative_path.h"

namespace arsync::dataplane {
namespace {

using engine::ContentChunk;
using engine::ContentFailed;
using engine::ContentRequest;
using fsio::DirBatch;
using fsio::FileEntry;
using fsio::FileType;

// ---- equality ----

testing::AssertionResult same_entry(const FileEntry& a, const FileEntry& b) {
  auto differ = [&](const char* field) {
    return testing::AssertionFailure() << "entry \"" << a.path << "\": " << field << " differs";
  };
  if (a.path != b.path) return differ("path");
  if (a.link_target != b.link_target) return differ("link_target");
  if (a.size != b.size) return differ("size");
  if (a.rdev != b.rdev) return differ("rdev");
  if (a.id != b.id) return differ("id");
  if (a.mtime != b.mtime) return differ("mtime");
  if (a.mode != b.mode) return differ("mode");
  if (a.uid != b.uid) return differ("uid");
  if (a.gid != b.gid) return differ("gid");
  if (a.hardlink_group != b.hardlink_group) return differ("hardlink_group");
  if (a.type != b.type) return differ("type");
  if (a.maybe_sparse != b.maybe_sparse) return differ("maybe_sparse");
  if (a.has_digest != b.has_digest) return differ("has_digest");
  if (a.digest_follows != b.digest_follows) return differ("digest_follows");
  if (a.digest != b.digest) return differ("digest");
  return testing::AssertionSuccess();
}

testing::AssertionResult same_batch(const DirBatch& a, const DirBatch& b) {
  if (a.dir != b.dir) return testing::AssertionFailure() << "dir differs";
  if (a.complete != b.complete) return testing::AssertionFailure() << "complete differs";
  if (a.entries.size() != b.entries.size()) {
    return testing::AssertionFailure()
           << "entry count " << a.entries.size() << " != " << b.entries.size();
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    auto r = same_entry(a.entries[i], b.entries[i]);
    if (!r) return testing::AssertionFailure() << "entry " << i << ": " << r.message();
  }
  return testing::AssertionSuccess();
}

fsio::ByteBuffer bytes_of(std::string_view text) {
  return fsio::ByteBuffer::copy_of(text);
}

bool operator==(const ContentChunk& a, const ContentChunk& b) {
  return a.id == b.id && a.offset == b.offset && a.data == b.data && a.last == b.last &&
         a.digest == b.digest;
}

bool operator==(const ContentFailed& a, const ContentFailed& b) {
  return a.id == b.id && a.vanished == b.vanished && a.digest == b.digest && a.message == b.message;
}

// ---- round-trip helpers ----

// Decodes `bytes`, checks that re-encoding gives the same bytes back (the encoding is
// canonical), and returns the result.
DirBatch batch_round_trip(const DirBatch& batch, size_t* encoded_size = nullptr) {
  Bytes bytes = encode_batch(batch);
  if (encoded_size) *encoded_size = bytes.size();
  std::string error = "stale";
  auto decoded = decode_batch(bytes, error);
  EXPECT_TRUE(decoded) << error;
  if (!decoded) return {};
  EXPECT_EQ(error, "");
  EXPECT_TRUE(same_batch(batch, *decoded));
  EXPECT_EQ(encode_batch(*decoded), bytes);
  return std::move(*decoded);
}

FileEntry entry(const std::string& dir, const std::string& name, FileType type) {
  FileEntry e;
  e.path = fsio::join_path(dir, name);
  e.type = type;
  e.mode = type == FileType::directory ? 0755 : 0644;
  e.uid = 1000;
  e.gid = 1000;
  e.mtime = {1'700'000'000, 123'456'789};
  if (type == FileType::symlink) e.link_target = "target";
  return e;
}

fsio::Digest128 some_digest(uint8_t seed) {
  fsio::Digest128 d;
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return d;
}

// ---- hand-built inputs ----

struct Raw {
  Bytes b;
  Raw& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Raw& varint(uint64_t v) {
    while (v >= 0x80) {
      b.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    b.push_back(static_cast<uint8_t>(v));
    return *this;
  }
  Raw& bytes(std::initializer_list<uint8_t> list) {
    b.insert(b.end(), list.begin(), list.end());
    return *this;
  }
  Raw& fill(size_t n, uint8_t v) {
    b.insert(b.end(), n, v);
    return *this;
  }
  Raw& str(std::string_view s) {
    varint(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
};

Raw batch_header(std::string_view dir = "d", bool complete = true, uint64_t count = 1) {
  Raw r;
  r.u8(kBatchVersion).u8(complete ? 1 : 0).str(dir).varint(count);
  return r;
}

// The bits of an entry's "same" byte.
constexpr uint8_t kSameMode = 1 << 0;
constexpr uint8_t kSameUid = 1 << 1;
constexpr uint8_t kSameGid = 1 << 2;
constexpr uint8_t kSameSize = 1 << 3;
constexpr uint8_t kSameSec = 1 << 4;
constexpr uint8_t kSameNsec = 1 << 5;
constexpr uint8_t kExpectedId = 1 << 6;
constexpr uint8_t kSameAll = 0x7f;

// The first entry of a batch: its name shares nothing with a previous one.
Raw& first_name(Raw& r, std::string_view name) {
  return r.varint(0).str(name);
}

// The first entry's fields after name and kind (against all-zero previous values): same
// (uid, gid and mtime sec 0), mode 0644, size 5, [nsec], id 1000 (never the expected one).
Raw& regular_fields(Raw& r, uint64_t nsec = 0) {
  r.u8(kSameUid | kSameGid | kSameSec | (nsec ? 0 : kSameNsec)).varint(0644).varint(5);
  if (nsec) r.varint(nsec);
  return r.varint(1000);
}

Bytes batch_with_entry_name(std::string_view dir, bool complete, std::string_view name) {
  Raw r = batch_header(dir, complete, 1);
  first_name(r, name).u8(0);
  return regular_fields(r).b;
}

// A valid batch of `entries` with its count raised by one, to be followed by a hand-built
// entry: the count must stay a one-byte varint.
Raw batch_then(const DirBatch& batch) {
  Raw r{encode_batch(batch)};
  const size_t count_at = 2 + 1 + batch.dir.size();
  EXPECT_EQ(r.b[count_at], batch.entries.size());
  ++r.b[count_at];
  return r;
}

// ---- batches ----

TEST(WireCodec, RoundTripsEveryEntryType) {
  DirBatch batch;
  batch.dir = "some/dir";
  batch.complete = true;

  FileEntry reg = entry(batch.dir, "a-regular", FileType::regular);
  reg.size = std::numeric_limits<uint64_t>::max();
  reg.id = std::numeric_limits<uint64_t>::max();
  reg.maybe_sparse = true;
  reg.has_digest = true;
  reg.digest = some_digest(1);
  reg.hardlink_group = FileEntry::kNoLink - 1;
  reg.mode = 07777;
  reg.uid = std::numeric_limits<uint32_t>::max();
  reg.gid = std::numeric_limits<uint32_t>::max();
  reg.mtime = {std::numeric_limits<int64_t>::min(), 999'999'999};
  batch.entries.push_back(reg);

  FileEntry zero = entry(batch.dir, "b-zero", FileType::regular);
  zero.mode = 0;
  zero.uid = 0;
  zero.gid = 0;
  zero.mtime = {0, 0};
  zero.hardlink_group = 0;
  zero.has_digest = true;  // the all-zero digest is still a digest
  batch.entries.push_back(zero);

  FileEntry dir = entry(batch.dir, "c-dir", FileType::directory);
  dir.mtime = {std::numeric_limits<int64_t>::max(), 1};
  dir.size = 4096;
  batch.entries.push_back(dir);

  FileEntry link = entry(batch.dir, "d-link", FileType::symlink);
  link.link_target = "../../elsewhere/\xff\n target";
  link.size = link.link_target.size();
  link.mtime = {-1, 500};
  batch.entries.push_back(link);

  FileEntry long_link = entry(batch.dir, "d-long-link", FileType::symlink);
  long_link.link_target = std::string(fsio::kMaxPathLength, 'L');
  batch.entries.push_back(long_link);

  FileEntry fifo = entry(batch.dir, "e-fifo", FileType::fifo);
  batch.entries.push_back(fifo);

  FileEntry sock = entry(batch.dir, "f-socket", FileType::socket);
  sock.mtime = {-86'400 * 365, 999'999'999};
  batch.entries.push_back(sock);

  FileEntry chr = entry(batch.dir, "g-chr", FileType::char_device);
  chr.rdev = std::numeric_limits<uint64_t>::max();
  batch.entries.push_back(chr);

  FileEntry blk = entry(batch.dir, "h-blk", FileType::block_device);
  blk.rdev = (8u << 8) | 1;
  blk.hardlink_group = 7;
  batch.entries.push_back(blk);

  batch_round_trip(batch);
}

TEST(WireCodec, RoundTripsEmptyBatches) {
  batch_round_trip(DirBatch{});
  batch_round_trip(DirBatch{"", true, {}});
  batch_round_trip(DirBatch{"x/y", false, {}});
}

TEST(WireCodec, RoundTripsTheRootEntryAndTopNames) {
  DirBatch root{"", false, {entry("", ".", FileType::directory)}};
  batch_round_trip(root);
  DirBatch top{"", false, {entry("", "src", FileType::regular)}};
  batch_round_trip(top);
  DirBatch root_list{
      "", true, {entry("", "a", FileType::directory), entry("", "b", FileType::regular)}};
  batch_round_trip(root_list);
}

TEST(WireCodec, RoundTripsLongNamesAndPaths) {
  std::string name(fsio::kMaxNameLength, 'n');
  batch_round_trip(DirBatch{"", true, {entry("", name, FileType::regular)}});

  // A dir just short enough that dir + "/" + name is exactly kMaxPathLength.
  const size_t want = fsio::kMaxPathLength - 1 - 200;
  std::string dir;
  while (want - dir.size() > fsio::kMaxNameLength) dir += std::string(199, 'd') + "/";
  dir += std::string(want - dir.size(), 'e');
  ASSERT_TRUE(fsio::is_safe_relative_path(dir));
  std::string leaf(200, 'f');
  ASSERT_EQ(dir.size() + 1 + leaf.size(), fsio::kMaxPathLength);
  DirBatch full{dir, true, {entry(dir, leaf, FileType::regular)}};
  batch_round_trip(full);

  // One byte more is refused, naming the entry.
  DirBatch over{dir, true, {entry(dir, leaf + "g", FileType::regular)}};
  std::string error;
  EXPECT_FALSE(decode_batch(encode_batch(over), error));
  EXPECT_EQ(error, "batch entry 0: path too long (4096 > 4095)");
}

TEST(WireCodec, RoundTripsDeepDirectories) {
  std::string dir;
  for (int level = 0; level < 40; ++level)
    dir = fsio::join_path(dir, "level" + std::to_string(level));
  DirBatch batch{dir, true, {}};
  for (FileType t : {FileType::regular, FileType::directory, FileType::symlink})
    batch.entries.push_back(entry(dir, "x" + std::to_string(static_cast<int>(t)), t));
  DirBatch decoded = batch_round_trip(batch);
  ASSERT_EQ(decoded.entries.size(), 3u);
  EXPECT_EQ(fsio::parent_path(decoded.entries[0].path), dir);
}

TEST(WireCodec, RoundTripsArbitraryBytesInNames) {
  DirBatch batch{"caf\xc3\xa9/\xff\xfe", true, {}};
  for (std::string name : {std::string("new\nline"), std::string("\xff\xfe\xfd"),
                           std::string("\r\n\t"), std::string(" leading space"), std::string("-rf"),
                           std::string("..."), std::string(".hidden"), std::string("..x"),
                           std::string("\x01\x7f"), std::string("\xe2\x82\xac-euro")})
    batch.entries.push_back(entry(batch.dir, name, FileType::regular));
  batch_round_trip(batch);
}

TEST(WireCodec, RoundTripsSharedPrefixesAndRepeatedFields) {
  DirBatch batch{"d", true, {}};
  // Names that share all, part or none of the previous one, or are a prefix of it.
  for (std::string name : {"abc", "abcd", "abcdef", "abd", "abd-1", "abe", "b", "bb", "bbb"}) {
    batch.entries.push_back(entry(batch.dir, name, FileType::regular));
  }
  // A name as long as names go, then one that shares all of it but the last byte.
  batch.entries.push_back(entry(batch.dir, std::string(255, 'x'), FileType::regular));
  batch.entries.push_back(entry(batch.dir, std::string(254, 'x') + "y", FileType::regular));
  batch.entries.push_back(entry(batch.dir, "z", FileType::directory));
  batch.entries.push_back(entry(batch.dir, "z-link", FileType::symlink));
  uint64_t id = 10;
  int64_t sec = 1'700'000'000;
  std::mt19937_64 rng(11);
  for (FileEntry& e : batch.entries) {
    // Each field repeats the previous entry's value about half the time; ids mostly follow.
    if (rng() % 2) e.mode = rng() % 07777;
    if (rng() % 2) e.uid = static_cast<uint32_t>(rng());
    if (rng() % 2) e.gid = static_cast<uint32_t>(rng() % 3);
    if (rng() % 2) e.size = rng() % 100000;
    if (rng() % 2) sec += static_cast<int64_t>(rng() % 2000) - 1000;  // back or forth
    e.mtime = {sec, rng() % 2 ? 0u : static_cast<uint32_t>(rng() % 1'000'000'000)};
    if (e.is_regular()) e.id = rng() % 4 ? ++id : (id = rng());
  }
  batch_round_trip(batch);

  // Times at both ends of the range: the differences wrap around.
  DirBatch extremes{"d", true, {}};
  for (int64_t t :
       {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(), int64_t{0},
        std::numeric_limits<int64_t>::min(), int64_t{-1}, std::numeric_limits<int64_t>::max()}) {
    FileEntry e = entry("d", "t" + std::to_string(extremes.entries.size()), FileType::fifo);
    e.mtime.sec = t;
    e.id = extremes.entries.size() % 2 ? 0 : std::numeric_limits<uint64_t>::max();
    extremes.entries.push_back(e);
  }
  batch_round_trip(extremes);
}

// The shape of a typical tree: a directory of same-mode, same-size files written at once.
TEST(WireCodec, TypicalDirectoryCostsAFewBytesPerEntry) {
  DirBatch batch{"d3", true, {}};
  for (int i = 0; i < 64; ++i) {
    FileEntry e = entry(batch.dir, "f" + std::to_string(i), FileType::regular);
    e.size = 65536;
    e.id = 200 + static_cast<uint64_t>(i);
    batch.entries.push_back(e);
  }
  std::sort(batch.entries.begin(), batch.entries.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  for (size_t i = 0; i < batch.entries.size(); ++i) batch.entries[i].id = 200 + i;
  size_t encoded = 0;
  batch_round_trip(batch, &encoded);
  // The first entry sends every field; each other one its shared length, the rest of its
  // name, kind and "same": 5 bytes or less.
  EXPECT_LE(encoded, 40u + 63u * 5u);
}

TEST(WireCodec, LargeBatchIsCompact) {
  constexpr size_t kEntries = 100'000;
  DirBatch batch{"home/user/project/src", true, {}};
  batch.entries.reserve(kEntries);
  std::mt19937_64 rng(42);
  size_t name_bytes = 0;
  for (size_t i = 0; i < kEntries; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "file_%06zu.cpp", i);
    FileEntry e = entry(batch.dir, name, FileType::regular);
    e.size = rng() % (1 << 20);
    e.mtime = {1'700'000'000 + static_cast<int64_t>(rng() % 10'000'000),
               static_cast<uint32_t>(rng() % 1'000'000'000)};
    e.id = i + 1;
    name_bytes += std::strlen(name);
    batch.entries.push_back(std::move(e));
  }
  size_t encoded = 0;
  DirBatch decoded = batch_round_trip(batch, &encoded);
  EXPECT_EQ(decoded.entries.size(), kEntries);
  double per_entry = static_cast<double>(encoded) / kEntries;
  double overhead = static_cast<double>(encoded - name_bytes) / kEntries;
  std::cout << "[ wire     ] " << kEntries << " entries: " << encoded << " bytes, " << per_entry
            << " bytes/entry (" << overhead << " bytes/entry besides the name)\n";
  testing::Test::RecordProperty("bytes_per_entry", std::to_string(per_entry));
  EXPECT_LT(overhead, 40.0);
}

TEST(WireCodec, RefusesADigestOnAnythingButARegularFile) {
  for (FileType t : {FileType::directory, FileType::symlink, FileType::fifo}) {
    FileEntry e = entry("", "n", t);
    e.has_digest = true;
    e.digest = some_digest(4);
    std::string error;
    EXPECT_FALSE(decode_batch(encode_batch(DirBatch{"", true, {e}}), error));
    EXPECT_NE(error.find("digest on a non-regular file"), std::string::npos) << error;
  }
}

TEST(WireCodec, DigestFollowsOnlyOnARegularFileWithoutADigest) {
  FileEntry e = entry("", "big", FileType::regular);
  e.digest_follows = true;
  std::string error;
  auto decoded = decode_batch(encode_batch(DirBatch{"", true, {e}}), error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_TRUE(decoded->entries[0].digest_follows);
  EXPECT_FALSE(decoded->entries[0].has_digest);

  e.has_digest = true;
  EXPECT_FALSE(decode_batch(encode_batch(DirBatch{"", true, {e}}), error));
  EXPECT_NE(error.find("both listed and to follow"), std::string::npos) << error;
  FileEntry dir = entry("", "d", FileType::directory);
  dir.digest_follows = true;
  EXPECT_FALSE(decode_batch(encode_batch(DirBatch{"", true, {dir}}), error));
}

TEST(WireCodec, RoundTripsDigestsAndRefusesMalformedOnes) {
  engine::ContentDigest digest{77, some_digest(5)};
  Bytes bytes = encode_digest(digest);
  std::string error;
  auto back = decode_digest(bytes, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->id, 77u);
  EXPECT_EQ(back->digest, digest.digest);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(decode_digest(std::span<const uint8_t>(bytes.data(), cut), error)) << cut;
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode_digest(longer, error));
  EXPECT_FALSE(decode_digest(encode_digest({0, some_digest(1)}), error));
}

TEST(WireCodec, EncoderRefusesEntriesOutsideTheBatchDir) {
  EXPECT_THROW(encode_batch(DirBatch{"a", true, {entry("b", "x", FileType::regular)}}),
               std::invalid_argument);
  EXPECT_THROW(encode_batch(DirBatch{"a", true, {entry("a/b", "x", FileType::regular)}}),
               std::invalid_argument);
  EXPECT_THROW(encode_batch(DirBatch{"", true, {entry("a", "x", FileType::regular)}}),
               std::invalid_argument);
  FileEntry prefix_only = entry("", "ab", FileType::regular);
  EXPECT_THROW(encode_batch(DirBatch{"a", true, {prefix_only}}), std::invalid_argument);
}

TEST(WireCodec, EveryTruncationIsRejected) {
  DirBatch batch{"d", true, {}};
  for (FileType t : {FileType::regular, FileType::directory, FileType::symlink, FileType::fifo,
                     FileType::socket, FileType::char_device, FileType::block_device}) {
    FileEntry e = entry("d", "n" + std::to_string(static_cast<int>(t)), t);
    e.has_digest = t == FileType::regular;
    e.digest = some_digest(3);
    e.hardlink_group = 300;
    e.rdev = e.is_device() ? 0x1234567 : 0;
    e.size = 1 << 30;
    batch.entries.push_back(e);
  }
  std::vector<std::pair<std::string, Bytes>> valid = {
      {"batch", encode_batch(batch)},
      {"request", encode_request(ContentRequest{{1, 300, 1ull << 40}})},
      {"chunk", encode_chunk(ContentChunk{7, 1 << 20, bytes_of("abc"), true, some_digest(2)})},
      {"failed", encode_failed(ContentFailed{7, true, "gone"})},
  };
  for (const auto& [kind, bytes] : valid) {
    for (size_t len = 0; len < bytes.size(); ++len) {
      std::span<const uint8_t> prefix(bytes.data(), len);
      std::string error;
      bool accepted = kind == "batch"     ? decode_batch(prefix, error).has_value()
                      : kind == "request" ? decode_request(prefix, error).has_value()
                      : kind == "chunk"   ? decode_chunk(prefix, error).has_value()
                                          : decode_failed(prefix, error).has_value();
      EXPECT_FALSE(accepted) << kind << " prefix of " << len << " bytes";
      EXPECT_NE(error.find("truncated"), std::string::npos)
          << kind << " prefix of " << len << " bytes: " << error;
      EXPECT_EQ(error.rfind(kind, 0), 0u) << error;
    }
  }
}

// Every byte of a valid encoding replaced by a few other values: each result is either
// refused or decodes to something that encodes back to exactly the same bytes.
TEST(WireCodec, MutationsAreRefusedOrCanonical) {
  DirBatch batch{"d", false, {}};
  for (FileType t : {FileType::regular, FileType::symlink, FileType::char_device}) {
    FileEntry e = entry("d", "n" + std::to_string(static_cast<int>(t)), t);
    e.has_digest = t == FileType::regular;
    e.digest = some_digest(9);
    e.hardlink_group = 2;
    batch.entries.push_back(e);
  }
  Bytes valid = encode_batch(batch);
  size_t accepted = 0;
  for (size_t i = 0; i < valid.size(); ++i) {
    for (uint8_t v : {0x00, 0x01, 0x2e, 0x2f, 0x7f, 0x80, 0xff}) {
      Bytes mutated = valid;
      mutated[i] = v;
      std::string error;
      auto decoded = decode_batch(mutated, error);
      if (!decoded) {
        EXPECT_FALSE(error.empty());
        continue;
      }
      ++accepted;
      EXPECT_EQ(encode_batch(*decoded), mutated) << "byte " << i << " = " << int{v};
    }
  }
  EXPECT_GT(accepted, 0u);
}

struct Malformed {
  const char* what;
  Bytes bytes;
  std::string error;  // the exact message
};

TEST(WireCodec, RejectsMalformedBatches) {
  Bytes valid = encode_batch(DirBatch{"d", true, {entry("d", "f", FileType::regular)}});
  Bytes bad_version = valid;
  bad_version[0] = kBatchVersion + 1;
  Bytes trailing = valid;
  trailing.push_back(0);
  trailing.push_back(0);

  std::vector<Malformed> cases = {
      {"empty input", {}, "batch: version truncated"},
      {"bad version", bad_version, "batch: version 3 unsupported (expected 2)"},
      {"version 1", Raw{}.u8(1).u8(0).str("").varint(0).b,
       "batch: version 1 unsupported (expected 2)"},
      {"trailing bytes", trailing, "batch: trailing garbage (2 bytes)"},
      {"unknown batch flag", Raw{}.u8(kBatchVersion).u8(0x02).str("").varint(0).b,
       "batch: flags has unknown bits (0x02)"},
      {"dir ../x", batch_header("../x").b, "batch: dir is not a safe relative path"},
      {"dir /abs", batch_header("/abs").b, "batch: dir is not a safe relative path"},
      {"dir a//b", batch_header("a//b").b, "batch: dir is not a safe relative path"},
      {"dir a/./b", batch_header("a/./b").b, "batch: dir is not a safe relative path"},
      {"dir with NUL", batch_header(std::string_view("a\0b", 3)).b,
       "batch: dir is not a safe relative path"},
      {"dir too long", batch_header(std::string(4096, 'a')).b, "batch: dir too long (4096 > 4095)"},
      {"dir length beyond input", Raw{}.u8(kBatchVersion).u8(1).varint(100).bytes({'a'}).b,
       "batch: dir truncated (100 bytes declared, 1 left)"},
      {"too many entries", batch_header("d", true, kMaxBatchEntries + 1).b,
       "batch: entry count too large (1048577 > 1048576)"},
      {"huge count, no entries", batch_header("d", true, kMaxBatchEntries).b,
       "batch entry 0: name shared truncated"},
      {"leaf ..", batch_with_entry_name("d", true, ".."), "batch entry 0: name is \"..\""},
      {"leaf ../x", batch_with_entry_name("d", true, "../x"), "batch entry 0: name contains '/'"},
      {"leaf /abs", batch_with_entry_name("", true, "/abs"), "batch entry 0: name contains '/'"},
      {"leaf a/b", batch_with_entry_name("d", true, "a/b"), "batch entry 0: name contains '/'"},
      {"empty leaf", batch_with_entry_name("d", true, ""), "batch entry 0: name is empty"},
      {"NUL in leaf", batch_with_entry_name("d", true, std::string_view("a\0b", 3)),
       "batch entry 0: name contains NUL"},
      {". in a dir", batch_with_entry_name("d", false, "."),
       "batch entry 0: name \".\" outside the root batch"},
      {". in a complete root batch", batch_with_entry_name("", true, "."),
       "batch entry 0: name \".\" outside the root batch"},
      {"name too long", batch_with_entry_name("d", true, std::string(256, 'x')),
       "batch entry 0: name too long (256 > 255)"},
  };

  const FileEntry ok0 = entry("d", "ok0", FileType::regular);
  const FileEntry ok1 = entry("d", "ok1", FileType::regular);
  const FileEntry ok2 = entry("d", "ok2", FileType::regular);
  {  // Errors name the entry: a bad fourth entry.
    Raw r = batch_then(DirBatch{"d", true, {ok0, ok1, ok2}});
    first_name(r, std::string(300, 'y'));
    cases.push_back({"name 300", r.b, "batch entry 3: name too long (300 > 255)"});
  }
  {
    Raw r = batch_header("", false, 2);
    regular_fields(first_name(r, ".").u8(1));
    r.varint(1).str("").u8(1).u8(kSameAll);
    cases.push_back({"two roots", r.b, "batch entry 1: name \".\" repeated"});
  }
  {
    Raw r = batch_header();
    cases.push_back(
        {"type 7", regular_fields(first_name(r, "f").u8(7)).b, "batch entry 0: type 7 unknown"});
  }
  {
    Raw r = batch_header();
    cases.push_back({"unknown kind bit", regular_fields(first_name(r, "f").u8(0x80)).b,
                     "batch entry 0: kind has unknown bits (0x80)"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(0x80);
    cases.push_back({"unknown same bit", r.b, "batch entry 0: same has unknown bits (0x80)"});
  }
  // Names: the shared prefix.
  {
    Raw r = batch_header();
    r.varint(1).str("f");
    cases.push_back({"first name shares", r.b, "batch entry 0: name shared too large (1 > 0)"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(4).str("x");
    cases.push_back({"shares more than the previous name", r.b,
                     "batch entry 1: name shared too large (4 > 3)"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(1).str("k1").u8(0).u8(kSameAll);
    cases.push_back({"shares less than it could", r.b,
                     "batch entry 1: name shared shorter than the common prefix"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(0).str("ok1").u8(0).u8(kSameAll);
    cases.push_back({"shares nothing though it could", r.b,
                     "batch entry 1: name shared shorter than the common prefix"});
  }
  {
    FileEntry longest = entry("d", std::string(200, 'n'), FileType::regular);
    Raw r = batch_then(DirBatch{"d", true, {longest}});
    r.varint(200).str(std::string(56, 'm'));
    cases.push_back({"shared + suffix beyond 255", r.b, "batch entry 1: name too long (56 > 55)"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(3).str("").u8(0).u8(kSameAll);
    cases.push_back({"the previous name again", r.b, ""});  // accepted: see below
  }
  // Fields that repeat the previous entry's value must not be sent.
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(2).str("1").u8(0).u8(kSameAll & ~kSameMode).varint(0644);
    cases.push_back({"mode repeated", r.b, "batch entry 1: mode repeats the previous entry's"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(2).str("1").u8(0).u8(kSameAll & ~kSameGid).varint(1000);
    cases.push_back({"gid repeated", r.b, "batch entry 1: gid repeats the previous entry's"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(2).str("1").u8(0).u8(kSameAll & ~kSameSize).varint(0);
    cases.push_back({"size repeated", r.b, "batch entry 1: size repeats the previous entry's"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(2).str("1").u8(0).u8(kSameAll & ~kSameSec).varint(0);
    cases.push_back(
        {"mtime sec delta 0", r.b, "batch entry 1: mtime sec repeats the previous entry's"});
  }
  {
    Raw r = batch_then(DirBatch{"d", true, {ok0}});
    r.varint(2).str("1").u8(0).u8(kSameAll & ~kSameNsec).varint(123'456'789);
    cases.push_back(
        {"nsec repeated", r.b, "batch entry 1: mtime nsec repeats the previous entry's"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(kSameAll & ~kExpectedId).varint(1);
    cases.push_back({"expected id sent", r.b, "batch entry 0: id is the expected one"});
  }
  {
    Raw r = batch_header();
    first_name(r, "c").u8(1).u8(kSameAll & ~kExpectedId).varint(0);
    cases.push_back({"directory id 0 sent", r.b, "batch entry 0: id is the expected one"});
  }
  // Bounds.
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(0).varint(010000);
    cases.push_back({"mode 010000", r.b, "batch entry 0: mode too large (010000 > 07777)"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(0).varint(0644).varint(1ull << 32);
    cases.push_back(
        {"uid > 32 bits", r.b, "batch entry 0: uid too large (4294967296 > 4294967295)"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(kSameAll & ~kSameNsec).varint(1'000'000'000);
    cases.push_back(
        {"nsec 1e9", r.b, "batch entry 0: mtime nsec too large (1000000000 > 999999999)"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(kSameAll & ~kSameSize).fill(10, 0x80).u8(0x01);
    cases.push_back(
        {"size varint 11 bytes", r.b, "batch entry 0: size varint longer than 10 bytes"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(kSameAll & ~kSameSize).fill(9, 0xff).u8(0x02);
    cases.push_back({"size beyond 64 bits", r.b, "batch entry 0: size varint overflows 64 bits"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0).u8(kSameAll & ~kSameUid).bytes({0x80, 0x00});
    cases.push_back({"uid not minimal", r.b, "batch entry 0: uid varint not minimal"});
  }
  {
    Raw r = batch_header();
    first_name(r, "f").u8(0x20).u8(kSameAll).varint(FileEntry::kNoLink);
    cases.push_back({"hardlink group kNoLink", r.b,
                     "batch entry 0: hardlink group too large (4294967295 > 4294967294)"});
  }
  {
    Raw r = batch_header();
    regular_fields(first_name(r, "f").u8(0x10)).fill(15, 0xaa);
    cases.push_back({"short digest", r.b, "batch entry 0: digest truncated"});
  }
  {
    Raw r = batch_header();
    regular_fields(first_name(r, "l").u8(2)).str("");
    cases.push_back({"empty link target", r.b, "batch entry 0: link target is empty"});
  }
  {
    Raw r = batch_header();
    regular_fields(first_name(r, "l").u8(2)).str(std::string_view("a\0b", 3));
    cases.push_back({"NUL in link target", r.b, "batch entry 0: link target contains NUL"});
  }
  {
    Raw r = batch_header();
    regular_fields(first_name(r, "l").u8(2)).str(std::string(4096, 't'));
    cases.push_back(
        {"link target too long", r.b, "batch entry 0: link target too long (4096 > 4095)"});
  }
  {
    Raw r = batch_header();
    first_name(r, "c").u8(5).u8(kSameAll);  // rdev missing
    cases.push_back({"device without rdev", r.b, "batch entry 0: rdev truncated"});
  }

  for (const Malformed& c : cases) {
    std::string error;
    if (c.error.empty()) {
      // A repeated name is the receiver's to refuse (as with any duplicate), not the codec's:
      // its encoding is still the only one.
      auto decoded = decode_batch(c.bytes, error);
      ASSERT_TRUE(decoded) << c.what << ": " << error;
      EXPECT_EQ(encode_batch(*decoded), c.bytes) << c.what;
      continue;
    }
    EXPECT_FALSE(decode_batch(c.bytes, error)) << c.what;
    EXPECT_EQ(error, c.error) << c.what;
  }
}

TEST(WireCodec, DecodersResetTheErrorString) {
  std::string error = "left over";
  EXPECT_TRUE(decode_request(encode_request(ContentRequest{{1}}), error));
  EXPECT_EQ(error, "");
}

// ---- requests ----

TEST(WireCodec, RoundTripsRequests) {
  for (const ContentRequest& request :
       {ContentRequest{}, ContentRequest{{1}},
        ContentRequest{{1, 127, 128, 16383, 16384, std::numeric_limits<uint64_t>::max()}}}) {
    std::string error;
    Bytes bytes = encode_request(request);
    auto decoded = decode_request(bytes, error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_EQ(decoded->ids, request.ids);
    EXPECT_EQ(encode_request(*decoded), bytes);
  }
  ContentRequest full;
  for (uint64_t id = 1; id <= kMaxRequestIds; ++id) full.ids.push_back(id);
  std::string error;
  auto decoded = decode_request(encode_request(full), error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(decoded->ids, full.ids);
}

TEST(WireCodec, RejectsMalformedRequests) {
  Bytes trailing = encode_request(ContentRequest{{5}});
  trailing.push_back(1);
  std::vector<Malformed> cases = {
      {"empty", {}, "request: version truncated"},
      {"bad version", Raw{}.u8(0).varint(0).b, "request: version 0 unsupported (expected 1)"},
      {"id 0", Raw{}.u8(kCodecVersion).varint(2).varint(4).varint(0).b, "request entry 1: id is 0"},
      {"too many ids", Raw{}.u8(kCodecVersion).varint(kMaxRequestIds + 1).b,
       "request: id count too large (65537 > 65536)"},
      {"count beyond input", Raw{}.u8(kCodecVersion).varint(kMaxRequestIds).varint(1).b,
       "request entry 1: id truncated"},
      {"id varint overflow", Raw{}.u8(kCodecVersion).varint(1).fill(10, 0x80).u8(1).b,
       "request entry 0: id varint longer than 10 bytes"},
      {"trailing bytes", trailing, "request: trailing garbage (1 bytes)"},
  };
  for (const Malformed& c : cases) {
    std::string error;
    EXPECT_FALSE(decode_request(c.bytes, error)) << c.what;
    EXPECT_EQ(error, c.error) << c.what;
  }
}

// ---- chunks ----

TEST(WireCodec, RoundTripsChunks) {
  std::vector<ContentChunk> chunks;
  chunks.push_back(ContentChunk{1, 0, {}, false, {}});
  chunks.push_back(ContentChunk{1, 0, {}, true, some_digest(5)});  // an empty file
  chunks.push_back(ContentChunk{
      std::numeric_limits<uint64_t>::max(), 1ull << 40, bytes_of({"\0\xff\n", 3}), false, {}});
  chunks.push_back(ContentChunk{9, std::numeric_limits<uint64_t>::max() - 3, bytes_of("abc"), true,
                                some_digest(6)});
  chunks.push_back(
      ContentChunk{2, 4096, bytes_of(std::string(kMaxChunkData, 'z')), true, some_digest(7)});

  for (const ContentChunk& chunk : chunks) {
    std::string error;
    Bytes bytes = encode_chunk(chunk);
    auto decoded = decode_chunk(bytes, error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_TRUE(*decoded == chunk);
    EXPECT_EQ(encode_chunk(*decoded), bytes);

    // Framed in place around the chunk's own buffer: the same bytes, with room left for
    // the frame header, and the data not copied.
    ContentChunk roomy{
        chunk.id, chunk.offset,
        fsio::ByteBuffer::copy_of(chunk.data, ContentChunk::kFrontRoom, ContentChunk::kBackRoom),
        chunk.last, chunk.digest};
    const uint8_t* data_at = roomy.data.data();
    fsio::ByteBuffer payload = encode_chunk_payload(std::move(roomy));
    EXPECT_TRUE(std::equal(payload.begin(), payload.end(), bytes.begin(), bytes.end()));
    EXPECT_GE(payload.front_room(), kFrameRoom);
    EXPECT_EQ(payload.data() + (bytes.size() - chunk.data.size() - (chunk.last ? 16 : 0)), data_at);
    // Decoded in place from a frame's buffer: the same chunk.
    auto adopted = decode_chunk(fsio::ByteBuffer::copy_of(bytes), error);
    ASSERT_TRUE(adopted) << error;
    EXPECT_TRUE(*adopted == chunk);
  }
  // Without room around its data (a chunk made by hand), the payload is a copy.
  ContentChunk tight{3, 0, bytes_of("xyz"), true, some_digest(1)};
  Bytes expected = encode_chunk(tight);
  fsio::ByteBuffer copied = encode_chunk_payload(std::move(tight));
  EXPECT_TRUE(std::equal(copied.begin(), copied.end(), expected.begin(), expected.end()));
  EXPECT_GE(copied.front_room(), kFrameRoom);
}

TEST(WireCodec, ContentEndCarriesTheCountOfFileStreams) {
  std::string error;
  for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, kMaxFileStreamCount}) {
    auto decoded = decode_content_end(encode_content_end(count), error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_EQ(*decoded, count);
  }
  Bytes good = encode_content_end(5);
  Bytes trailing = good;
  trailing.push_back(0);
  Bytes version = good;
  version[0] ^= 0x40;
  for (const Bytes& bad : {Bytes{}, trailing, version, encode_content_end(kMaxFileStreamCount + 1),
                           Bytes{good[0], 0x80}}) {
    EXPECT_FALSE(decode_content_end(bad, error));
    EXPECT_NE(error, "");
  }
}

TEST(WireCodec, RejectsMalformedChunks) {
  Bytes oversized =
      encode_chunk(ContentChunk{1, 0, bytes_of(std::string(kMaxChunkData + 1, 'y')), false, {}});
  Bytes trailing = encode_chunk(ContentChunk{1, 0, bytes_of("x"), false, {}});
  trailing.push_back(0);
  std::vector<Malformed> cases = {
      {"empty", {}, "chunk: version truncated"},
      {"data longer than kMaxChunkData", oversized, "chunk: data too long (4194305 > 4194304)"},
      {"data length beyond input", Raw{}.u8(kCodecVersion).varint(1).varint(0).u8(0).varint(50).b,
       "chunk: data truncated (50 bytes declared, 0 left)"},
      {"id 0", Raw{}.u8(kCodecVersion).varint(0).varint(0).u8(0).varint(0).b, "chunk: id is 0"},
      {"unknown flag", Raw{}.u8(kCodecVersion).varint(1).varint(0).u8(0x81).varint(0).b,
       "chunk: flags has unknown bits (0x80)"},
      {"offset overflow",
       Raw{}
           .u8(kCodecVersion)
           .varint(1)
           .varint(std::numeric_limits<uint64_t>::max())
           .u8(0)
           .str("ab")
           .b,
       "chunk: offset + data length overflows 64 bits"},
      {"last without digest", Raw{}.u8(kCodecVersion).varint(1).varint(0).u8(1).str("ab").b,
       "chunk: digest truncated"},
      {"trailing bytes", trailing, "chunk: trailing garbage (1 bytes)"},
  };
  for (const Malformed& c : cases) {
    std::string error;
    EXPECT_FALSE(decode_chunk(c.bytes, error)) << c.what;
    EXPECT_EQ(error, c.error) << c.what;
  }
}

// ---- failures ----

TEST(WireCodec, RoundTripsFailures) {
  for (const ContentFailed& failed :
       {ContentFailed{1, false, ""}, ContentFailed{42, true, "gone: No such file (2)"},
        ContentFailed{std::numeric_limits<uint64_t>::max(), false,
                      std::string("\xff\xfe\0 bytes\n", 10)},
        ContentFailed{3, false, std::string(kMaxMessageText, 'm')},
        ContentFailed{9, true, "checksum of \"f\" failed", true}}) {
    std::string error;
    Bytes bytes = encode_failed(failed);
    auto decoded = decode_failed(bytes, error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_TRUE(*decoded == failed);
    EXPECT_EQ(encode_failed(*decoded), bytes);
  }
}

TEST(WireCodec, EncoderCutsLongFailureMessages) {
  ContentFailed failed{3, true, std::string(kMaxMessageText, 'm') + "tail"};
  std::string error;
  auto decoded = decode_failed(encode_failed(failed), error);
  ASSERT_TRUE(decoded) << error;
  EXPECT_EQ(decoded->message, std::string(kMaxMessageText, 'm'));
  EXPECT_TRUE(decoded->vanished);
}

TEST(WireCodec, RejectsMalformedFailures) {
  std::vector<Malformed> cases = {
      {"empty", {}, "failed: version truncated"},
      {"id 0", Raw{}.u8(kCodecVersion).varint(0).u8(0).str("x").b, "failed: id is 0"},
      {"unknown flag", Raw{}.u8(kCodecVersion).varint(1).u8(4).str("x").b,
       "failed: flags has unknown bits (0x04)"},
      {"message too long", Raw{}.u8(kCodecVersion).varint(1).u8(0).str(std::string(4097, 'm')).b,
       "failed: message too long (4097 > 4096)"},
      {"trailing bytes", Raw{}.u8(kCodecVersion).varint(1).u8(0).str("x").u8(0).b,
       "failed: trailing garbage (1 bytes)"},
  };
  for (const Malformed& c : cases) {
    std::string error;
    EXPECT_FALSE(decode_failed(c.bytes, error)) << c.what;
    EXPECT_EQ(error, c.error) << c.what;
  }
}

TEST(WireCodec, RoundTripsDeltaMessages) {
  for (const DeltaMessage& m :
       {DeltaMessage{1, {1}}, DeltaMessage{300, Bytes(1000, 0xab)},
        DeltaMessage{std::numeric_limits<uint64_t>::max(), Bytes(kMaxDeltaMessage, 7)}}) {
    std::string error;
    const Bytes encoded = encode_delta(m);
    auto decoded = decode_delta(encoded, error);
    ASSERT_TRUE(decoded) << error;
    EXPECT_EQ(*decoded, m);
    for (size_t len : {size_t{0}, size_t{1}, encoded.size() / 2, encoded.size() - 1}) {
      EXPECT_FALSE(decode_delta(std::span(encoded).first(len), error)) << len;
      EXPECT_NE(error.find("truncated"), std::string::npos) << error;
    }
  }
}

TEST(WireCodec, RejectsMalformedDeltaMessages) {
  std::vector<Malformed> cases = {
      {"empty", {}, "delta: version truncated"},
      {"wrong version", Raw{}.u8(9).varint(1).str("x").b,
       "delta: version 9 unsupported (expected 1)"},
      {"id 0", Raw{}.u8(kCodecVersion).varint(0).str("x").b, "delta: id is 0"},
      {"non-minimal id", Raw{}.u8(kCodecVersion).bytes({0x81, 0x00}).str("x").b,
       "delta: id varint not minimal"},
      {"empty message", Raw{}.u8(kCodecVersion).varint(1).str("").b, "delta: message is empty"},
      {"message too long", Raw{}.u8(kCodecVersion).varint(1).varint(kMaxDeltaMessage + 1).b,
       "delta: message too long (7340033 > 7340032)"},
      {"length past the end", Raw{}.u8(kCodecVersion).varint(1).varint(5).str("ab").b,
       "delta: message truncated (5 bytes declared, 3 left)"},
      {"trailing bytes", Raw{}.u8(kCodecVersion).varint(1).str("x").u8(0).b,
       "delta: trailing garbage (1 bytes)"},
  };
  for (const Malformed& c : cases) {
    std::string error;
    EXPECT_FALSE(decode_delta(c.bytes, error)) << c.what;
    EXPECT_EQ(error, c.error) << c.what;
  }
}

}  // namespace
}  // namespace arsync::dataplane
