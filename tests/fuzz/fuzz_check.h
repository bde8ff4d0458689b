// Shared by the wire-codec fuzz targets: what must hold for every input a decoder accepts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "dataplane/wire_codec.h"

namespace arsync::fuzz {

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "wire codec fuzz check failed: %s\n", what);
    std::abort();
  }
}

inline bool same(const fsio::FileEntry& a, const fsio::FileEntry& b) {
  return a.path == b.path && a.link_target == b.link_target && a.size == b.size &&
         a.rdev == b.rdev && a.id == b.id && a.mtime == b.mtime && a.mode == b.mode &&
         a.uid == b.uid && a.gid == b.gid && a.hardlink_group == b.hardlink_group &&
         a.type == b.type && a.maybe_sparse == b.maybe_sparse && a.has_digest == b.has_digest &&
         a.digest_follows == b.digest_follows && a.digest == b.digest;
}

inline bool same(const fsio::DirBatch& a, const fsio::DirBatch& b) {
  if (a.dir != b.dir || a.complete != b.complete || a.entries.size() != b.entries.size()) {
    return false;
  }
  for (size_t i = 0; i < a.entries.size(); ++i) {
    if (!same(a.entries[i], b.entries[i])) return false;
  }
  return true;
}

inline bool same(const engine::ContentRequest& a, const engine::ContentRequest& b) {
  return a.ids == b.ids;
}

inline bool same(const engine::ContentChunk& a, const engine::ContentChunk& b) {
  return a.id == b.id && a.offset == b.offset && a.data == b.data && a.last == b.last &&
         a.digest == b.digest;
}

inline bool same(const engine::ContentFailed& a, const engine::ContentFailed& b) {
  return a.id == b.id && a.vanished == b.vanished && a.digest == b.digest && a.message == b.message;
}

inline bool same(const engine::ContentDigest& a, const engine::ContentDigest& b) {
  return a.id == b.id && a.digest == b.digest;
}

inline bool same(const dataplane::DeltaMessage& a, const dataplane::DeltaMessage& b) {
  return a == b;
}

// Decodes the input; when it is accepted, checks that encoding the result gives back exactly
// the input (the encoding is canonical) and that decoding that again gives the same value.
// Returns the decoded value for further checks by the caller.
template <typename Decode, typename Encode>
auto round_trip(const uint8_t* data, size_t size, Decode decode, Encode encode) {
  std::span<const uint8_t> in(data, size);
  std::string error;
  auto first = decode(in, error);
  if (!first) {
    check(!error.empty(), "input refused without an error message");
    return first;
  }
  check(error.empty(), "input accepted with an error message");
  dataplane::Bytes bytes = encode(*first);
  check(bytes.size() == size && std::equal(bytes.begin(), bytes.end(), data),
        "encode(decode(input)) != input");
  auto second = decode(bytes, error);
  check(second.has_value(), "decode(encode(x)) refused");
  check(same(*first, *second), "decode(encode(x)) != x");
  return first;
}

}  // namespace arsync::fuzz
