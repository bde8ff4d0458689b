// Writes the seed corpus of the wire-codec fuzz targets: small valid encodings made by the
// encoder itself, one file per message, under <out>/<target>/. scripts/fuzz-smoke runs it
// before fuzzing; its output at the time of writing is committed under tests/fuzz/corpus/.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/wire_codec.h"
#include "fsio/relative_path.h"

namespace {

using namespace arsync;
namespace fs = std::filesystem;

void write_seeds(const fs::path& dir, const std::vector<dataplane::Bytes>& seeds) {
  fs::create_directories(dir);
  for (size_t i = 0; i < seeds.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "seed-%02zu", i);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(seeds[i].data()),
              static_cast<std::streamsize>(seeds[i].size()));
  }
}

fsio::FileEntry entry(const std::string& dir, const std::string& name, fsio::FileType type) {
  fsio::FileEntry e;
  e.path = fsio::join_path(dir, name);
  e.type = type;
  e.mode = type == fsio::FileType::directory ? 0755 : 0644;
  e.uid = 1000;
  e.gid = 100;
  e.size = type == fsio::FileType::regular ? 12345 : 0;
  e.mtime = {1'700'000'000, 123'456'789};
  if (type == fsio::FileType::symlink) e.link_target = "../target";
  if (type == fsio::FileType::char_device) e.rdev = (1u << 8) | 3;
  return e;
}

std::vector<dataplane::Bytes> batches() {
  std::vector<dataplane::Bytes> out;
  out.push_back(dataplane::encode_batch(fsio::DirBatch{"", true, {}}));
  out.push_back(dataplane::encode_batch(
      fsio::DirBatch{"", false, {entry("", ".", fsio::FileType::directory)}}));
  out.push_back(dataplane::encode_batch(
      fsio::DirBatch{"", false, {entry("", "top", fsio::FileType::regular)}}));

  fsio::DirBatch all{"src/lib", true, {}};
  const fsio::FileType types[] = {fsio::FileType::regular,     fsio::FileType::directory,
                                  fsio::FileType::symlink,     fsio::FileType::fifo,
                                  fsio::FileType::socket,      fsio::FileType::char_device,
                                  fsio::FileType::block_device};
  for (fsio::FileType t : types) {
    all.entries.push_back(entry(all.dir, "e" + std::to_string(static_cast<int>(t)), t));
  }
  all.entries[0].has_digest = true;
  all.entries[0].digest.fill(0xab);
  all.entries[0].maybe_sparse = true;
  all.entries[0].hardlink_group = 3;
  all.entries[0].id = 77;
  out.push_back(dataplane::encode_batch(all));

  fsio::DirBatch extreme{"x", true, {entry("x", std::string(40, 'n'), fsio::FileType::regular)}};
  fsio::FileEntry& e = extreme.entries[0];
  e.size = std::numeric_limits<uint64_t>::max();
  e.id = std::numeric_limits<uint64_t>::max();
  e.mtime = {std::numeric_limits<int64_t>::min(), 999'999'999};
  e.mode = 07777;
  e.uid = std::numeric_limits<uint32_t>::max();
  out.push_back(dataplane::encode_batch(extreme));

  // What a tree's batches look like: names sharing prefixes, fields repeating the previous
  // entry's, consecutive ids, and a few that differ.
  fsio::DirBatch tree{"d3", true, {}};
  for (const char* name : {"f0", "f1", "f10", "f11", "f2", "sub", "sub-dir", "t"}) {
    const bool dir = std::string_view(name).starts_with("sub");
    tree.entries.push_back(
        entry(tree.dir, name, dir ? fsio::FileType::directory : fsio::FileType::regular));
  }
  uint64_t id = 40;
  for (fsio::FileEntry& t : tree.entries) {
    if (t.type == fsio::FileType::regular) t.id = id++;
  }
  tree.entries[3].size = 65536;
  tree.entries[4].mtime.sec += 3600;
  tree.entries[4].mtime.nsec = 0;
  tree.entries[7].id = 5;
  tree.entries[7].uid = 0;
  out.push_back(dataplane::encode_batch(tree));

  std::string deep;
  for (int i = 0; i < 40; ++i) deep = fsio::join_path(deep, "d" + std::to_string(i));
  out.push_back(dataplane::encode_batch(
      fsio::DirBatch{deep, false, {entry(deep, "new\nline\xff", fsio::FileType::symlink)}}));
  return out;
}

std::vector<dataplane::Bytes> requests() {
  return {dataplane::encode_request({}), dataplane::encode_request({{1}}),
          dataplane::encode_request({{1, 2, 3, 128, 300, 1ull << 40}}),
          dataplane::encode_request({{std::numeric_limits<uint64_t>::max()}})};
}

std::vector<dataplane::Bytes> chunks() {
  fsio::Digest128 digest;
  digest.fill(0x5a);
  return {
      dataplane::encode_chunk({1, 0, fsio::ByteBuffer::copy_of("hello"), false, {}}),
      dataplane::encode_chunk({1, 5, {}, true, digest}),
      dataplane::encode_chunk(
          {300, 1ull << 33, fsio::ByteBuffer::copy_of(std::string(64, 'x')), true, digest}),
  };
}

std::vector<dataplane::Bytes> failures() {
  return {
      dataplane::encode_failed({1, false, ""}),
      dataplane::encode_failed({7, true, "send_files failed to open \"a\": No such file (2)"}),
      dataplane::encode_failed({1ull << 50, false, "\xff\xfe bytes"}),
      dataplane::encode_failed({9, true, "checksum of \"f\" failed", true}),
      dataplane::encode_content_end(0),
      dataplane::encode_content_end(1500),
  };
}

std::vector<dataplane::Bytes> digests() {
  fsio::Digest128 root{};
  for (size_t i = 0; i < root.size(); ++i) root[i] = static_cast<uint8_t>(0x11 * i);
  return {
      dataplane::encode_digest({1, {}}),
      dataplane::encode_digest({300, root}),
      dataplane::encode_digest({1ull << 50, root}),
  };
}

std::vector<dataplane::Bytes> deltas() {
  return {
      dataplane::encode_delta({1, {1}}),
      dataplane::encode_delta(
          {300, {1, 12, 0x80, 0x80, 4, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}}),
      dataplane::encode_delta({1ull << 40, dataplane::Bytes(1000, 0xab)}),
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  fs::path out = argv[1];
  write_seeds(out / "fuzz_decode_batch", batches());
  write_seeds(out / "fuzz_decode_request", requests());
  write_seeds(out / "fuzz_decode_chunk", chunks());
  write_seeds(out / "fuzz_decode_failed", failures());
  write_seeds(out / "fuzz_decode_delta", deltas());
  write_seeds(out / "fuzz_decode_digest", digests());
  return 0;
}
