// Wire-budget simulation of the delta exchange (docs/DELTA.md): for the single-file edits of
// the issue on a random file, runs both sides in one process (merkle/delta_loopback.h),
// rebuilds the file from the recipe and checks it, and prints the bytes each direction took.
//
//   delta_sim [--size MIB]... [--bits N] [--fixed-fanout] [--write DIR]
//
// --size      file sizes to try (default 64 and 256)
// --bits      chunk size exponent instead of the one the receiver would pick
// --fixed-fanout  groups of exactly 16 in the merkle tree (to compare with content-defined)
// --write DIR writes DIR/<size>M/basis and DIR/<size>M/<edit> (the edited file) so that
//             bench/delta-vs-rsync can run rsync on the very same files
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fsio/unique_fd.h"
#include "merkle/chunker.h"
#include "merkle/delta_loopback.h"
#include "merkle/file_hasher.h"
#include "merkle/parallel_chunker.h"
#include "merkle/recipe_applier.h"

namespace {

using namespace arsync;
using ByteVec = std::vector<uint8_t>;
constexpr size_t kMiB = 1 << 20;

ByteVec random_bytes(size_t size, std::mt19937_64& rng) {
  ByteVec out(size);
  for (size_t i = 0; i < size; i += 8) {
    const uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
  }
  return out;
}

struct Edit {
  const char* name;
  std::function<ByteVec(const ByteVec&, std::mt19937_64&)> apply;
};

std::vector<Edit> edits() {
  return {
      {"append 1 MiB",
       [](const ByteVec& b, std::mt19937_64& rng) {
         ByteVec out = b;
         ByteVec extra = random_bytes(kMiB, rng);
         out.insert(out.end(), extra.begin(), extra.end());
         return out;
       }},
      {"overwrite 1 MiB in the middle",
       [](const ByteVec& b, std::mt19937_64& rng) {
         ByteVec out = b;
         ByteVec extra = random_bytes(kMiB, rng);
         std::copy(extra.begin(), extra.end(), out.begin() + static_cast<ptrdiff_t>(b.size() / 2));
         return out;
       }},
      {"insert 100 bytes at 10 places",
       [](const ByteVec& b, std::mt19937_64& rng) {
         ByteVec out = b;
         for (size_t i = 10; i-- > 0;) {  // from the end, so earlier places stay put
           ByteVec extra = random_bytes(100, rng);
           const size_t at = b.size() / 10 * i + rng() % (b.size() / 10);
           out.insert(out.begin() + static_cast<ptrdiff_t>(at), extra.begin(), extra.end());
         }
         return out;
       }},
      {"delete 1 MiB from the middle",
       [](const ByteVec& b, std::mt19937_64&) {
         ByteVec out = b;
         const auto at = out.begin() + static_cast<ptrdiff_t>(b.size() / 2);
         out.erase(at, at + static_cast<ptrdiff_t>(kMiB));
         return out;
       }},
      {"move a 4 MiB block",
       [](const ByteVec& b, std::mt19937_64&) {
         // From a quarter of the way to three quarters.
         const size_t from = b.size() / 4 + 12345;
         ByteVec block(b.begin() + static_cast<ptrdiff_t>(from),
                       b.begin() + static_cast<ptrdiff_t>(from + 4 * kMiB));
         ByteVec out = b;
         out.erase(out.begin() + static_cast<ptrdiff_t>(from),
                   out.begin() + static_cast<ptrdiff_t>(from + 4 * kMiB));
         const size_t to = b.size() * 3 / 4 + 777;
         out.insert(out.begin() + static_cast<ptrdiff_t>(to), block.begin(), block.end());
         return out;
       }},
  };
}

fsio::UniqueFd memfd_with(const ByteVec& bytes) {
  fsio::UniqueFd fd(::memfd_create("delta_sim", MFD_CLOEXEC));
  size_t done = 0;
  while (fd && done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n <= 0) std::exit(1);
    done += static_cast<size_t>(n);
  }
  return fd;
}

void write_file(const std::filesystem::path& path, const ByteVec& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::string slug(const char* name) {
  std::string out;
  for (const char* p = name; *p; ++p) out += *p == ' ' ? '-' : *p;
  return out;
}

merkle::FileHashes hash_with(const ByteVec& data, const merkle::ChunkParams& params,
                             merkle::Grouping grouping) {
  merkle::FileHashes h = merkle::hash_bytes(data, params);
  if (grouping != merkle::Grouping::by_content) {
    h.tree =
        merkle::MerkleTree::build(merkle::chunk_and_hash_parallel(data, params), params, grouping);
  }
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes;
  int bits = 0;
  merkle::Grouping grouping = merkle::Grouping::by_content;
  std::string write_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--size" && i + 1 < argc) {
      sizes.push_back(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--bits" && i + 1 < argc) {
      bits = std::atoi(argv[++i]);
    } else if (arg == "--fixed-fanout") {
      grouping = merkle::Grouping::fixed;
    } else if (arg == "--write" && i + 1 < argc) {
      write_dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--size MIB]... [--bits N] [--fixed-fanout] [--write DIR]\n",
                   argv[0]);
      return 2;
    }
  }
  if (sizes.empty()) sizes = {64, 256};

  std::printf(
      "| size | edit | chunk | total bytes | receiver->sender | sender->receiver | "
      "of which literal | round trips |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t mib : sizes) {
    std::mt19937_64 rng(mib);
    const ByteVec basis = random_bytes(mib * kMiB, rng);
    const merkle::ChunkParams params =
        bits ? merkle::ChunkParams::for_bits(static_cast<unsigned>(bits))
             : merkle::chunk_params_for_size(basis.size());
    const merkle::FileHashes basis_hashes = hash_with(basis, params, grouping);
    const fsio::UniqueFd basis_fd = memfd_with(basis);
    const auto dir = std::filesystem::path(write_dir) / (std::to_string(mib) + "M");
    if (!write_dir.empty()) write_file(dir / "basis", basis);
    for (const Edit& edit : edits()) {
      const ByteVec changed = edit.apply(basis, rng);
      if (!write_dir.empty()) write_file(dir / slug(edit.name), changed);
      const merkle::FileHashes mine = hash_with(changed, params, grouping);
      const merkle::LoopbackResult result =
          merkle::run_delta_loopback(basis_hashes.tree, nullptr, mine, changed);
      // The recipe must rebuild the file exactly, or the numbers mean nothing.
      const fsio::UniqueFd out = memfd_with({});
      std::string error;
      if (!merkle::apply_recipe(result.recipe, {basis_fd.get()}, out.get(), error)) {
        std::fprintf(stderr, "%s: %s\n", edit.name, error.c_str());
        return 1;
      }
      const merkle::DeltaTraffic& t = result.traffic;
      std::printf("| %zu MiB | %s | %u B | %llu | %llu | %llu | %llu | %zu |\n", mib, edit.name,
                  params.avg_size, static_cast<unsigned long long>(t.total()),
                  static_cast<unsigned long long>(t.signature_bytes + t.answer_bytes),
                  static_cast<unsigned long long>(t.probe_bytes + t.recipe_bytes),
                  static_cast<unsigned long long>(t.literal_bytes), t.round_trips);
      std::fflush(stdout);
    }
  }
  return 0;
}
