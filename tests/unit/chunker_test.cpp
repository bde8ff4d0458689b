#include "merkle/chunker.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fsio/unique_fd.h"
#include "merkle/chunk_params.h"
#include "merkle/file_digest.h"
#include "merkle/file_hasher.h"
#include "merkle/parallel_chunker.h"

namespace arsync::merkle {
namespace {

std::vector<uint8_t> random_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, size - i));
  }
  return out;
}

// Stretches where the gear hash finds few or no cuts: runs of one byte, a short repeating
// pattern, random stretches in between.
std::vector<uint8_t> low_entropy_bytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out;
  out.reserve(size);
  while (out.size() < size) {
    const size_t run = std::min<size_t>(size - out.size(), rng() % 20000 + 1);
    switch (rng() % 3) {
      case 0:
        out.insert(out.end(), run, static_cast<uint8_t>(rng()));
        break;
      case 1:
        for (size_t i = 0; i < run; ++i) out.push_back(static_cast<uint8_t>("abcabcd"[i % 7]));
        break;
      default:
        for (size_t i = 0; i < run; ++i) out.push_back(static_cast<uint8_t>(rng()));
    }
  }
  return out;
}

fsio::UniqueFd memfd_with(const std::vector<uint8_t>& bytes) {
  fsio::UniqueFd fd(::memfd_create("chunker_test", MFD_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    EXPECT_GT(n, 0);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  return fd;
}

// Checks the chunks tile data from `base`, respect the size limits and carry the right
// hashes.
void expect_valid_chunks(const std::vector<Chunk>& chunks, std::span<const uint8_t> data,
                         const ChunkParams& p, bool complete) {
  uint64_t pos = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const Chunk& c = chunks[i];
    ASSERT_EQ(c.offset, pos) << "chunk " << i;
    ASSERT_GT(c.length, 0u);
    ASSERT_LE(c.length, p.max_size);
    if (i + 1 < chunks.size()) {
      ASSERT_GT(c.length, p.min_size) << "chunk " << i;
    }
    ASSERT_EQ(c.hash, digest_bytes(data.data() + pos, c.length)) << "chunk " << i;
    pos += c.length;
  }
  if (complete) {
    ASSERT_EQ(pos, data.size());
  }
}

TEST(ChunkParams, DerivedSizes) {
  const ChunkParams p = ChunkParams::for_bits(12);
  EXPECT_EQ(p.avg_size, 4096u);
  EXPECT_EQ(p.min_size, 1024u);
  EXPECT_EQ(p.max_size, 16384u);
  EXPECT_EQ(p.mask_small, ~uint64_t{0} << 50);
  EXPECT_EQ(p.mask_large, ~uint64_t{0} << 54);
  EXPECT_THROW(ChunkParams::for_bits(kMinChunkBits - 1), std::invalid_argument);
  EXPECT_THROW(ChunkParams::for_bits(kMaxChunkBits + 1), std::invalid_argument);
}

TEST(ChunkParams, GrowWithTheSquareRootOfTheSize) {
  EXPECT_EQ(chunk_params_for_size(0).bits, kMinChunkBits);
  EXPECT_EQ(chunk_params_for_size(100).bits, kMinChunkBits);
  EXPECT_EQ(chunk_params_for_size(1 << 20).bits, kMinChunkBits);
  EXPECT_EQ(kMinChunkBits, 8u);  // 256 bytes for files up to 1 MiB
  EXPECT_EQ(chunk_params_for_size((1 << 20) + 1).bits, 9u);
  EXPECT_EQ(chunk_params_for_size(4 << 20).bits, 9u);
  EXPECT_EQ(chunk_params_for_size((4 << 20) + 1).bits, 10u);
  EXPECT_EQ(chunk_params_for_size(64 << 20).bits, 11u);
  EXPECT_EQ(chunk_params_for_size((64 << 20) + 1).bits, 12u);
  EXPECT_EQ(chunk_params_for_size(256 << 20).bits, 12u);
  EXPECT_EQ(chunk_params_for_size(uint64_t{1} << 30).bits, 13u);
  EXPECT_EQ(chunk_params_for_size(~uint64_t{0}).bits, kMaxChunkBits);
}

TEST(Chunker, ShortDataIsOneChunk) {
  const ChunkParams p = ChunkParams::for_bits(9);
  const auto data = random_bytes(p.min_size, 1);
  for (size_t size : {size_t{0}, size_t{1}, size_t{p.min_size}}) {
    EXPECT_EQ(cut_length({data.data(), size}, p), size);
  }
  EXPECT_TRUE(chunk_and_hash({}, p).empty());
}

TEST(Chunker, ChunksTileTheDataWithinTheLimits) {
  for (unsigned bits : {9u, 11u, 13u}) {
    const ChunkParams p = ChunkParams::for_bits(bits);
    const auto data = random_bytes(3 << 20, bits);
    const auto chunks = chunk_and_hash(data, p);
    expect_valid_chunks(chunks, data, p, true);
    // Normalised chunking keeps the average close to the target.
    const double mean = static_cast<double>(data.size()) / static_cast<double>(chunks.size());
    EXPECT_GT(mean, p.avg_size * 0.9) << "bits " << bits;
    EXPECT_LT(mean, p.avg_size * 1.4) << "bits " << bits;
  }
}

TEST(Chunker, DataWithoutCutsIsCutAtMaxSize) {
  const ChunkParams p = ChunkParams::for_bits(9);
  const std::vector<uint8_t> zeros(10 * p.max_size + 5, 0);
  const auto chunks = chunk_and_hash(zeros, p);
  expect_valid_chunks(chunks, zeros, p, true);
  // Either every chunk found its cut as early as allowed, or none did.
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].length, chunks[0].length);
  }
}

TEST(Chunker, AnInsertionMovesOnlyTheCutsNearIt) {
  const ChunkParams p = ChunkParams::for_bits(10);
  auto data = random_bytes(1 << 20, 7);
  const auto before = chunk_and_hash(data, p);
  const auto extra = random_bytes(100, 8);
  data.insert(data.begin() + 300000, extra.begin(), extra.end());
  const auto after = chunk_and_hash(data, p);
  size_t same = 0;
  for (const Chunk& c : after) {
    for (const Chunk& b : before) {
      if (b.hash == c.hash) {
        ++same;
        break;
      }
    }
  }
  EXPECT_GE(same + 3, after.size());
}

TEST(Chunker, PartialDataGivesAPrefixOfTheChunks) {
  const ChunkParams p = ChunkParams::for_bits(9);
  const auto data = random_bytes(200000, 9);
  const auto all = chunk_and_hash(data, p);
  std::mt19937_64 rng(10);
  for (int round = 0; round < 200; ++round) {
    const size_t cut = rng() % data.size();
    const auto head = chunk_and_hash({data.data(), cut}, p, 0, false);
    ASSERT_LE(head.size(), all.size());
    for (size_t i = 0; i < head.size(); ++i) ASSERT_EQ(head[i], all[i]) << "cut at " << cut;
    // What is left out can be chunked later from where the prefix stopped.
    const uint64_t resume = head.empty() ? 0 : head.back().offset + head.back().length;
    const auto tail = chunk_and_hash({data.data() + resume, data.size() - resume}, p, resume);
    ASSERT_EQ(head.size() + tail.size(), all.size());
    for (size_t i = 0; i < tail.size(); ++i) ASSERT_EQ(tail[i], all[head.size() + i]);
    // Fewer than max_size bytes are ever left out.
    ASSERT_LT(cut - std::min<uint64_t>(cut, resume), p.max_size);
  }
}

TEST(ParallelChunker, SameChunksAsSequential) {
  const ChunkParams p = ChunkParams::for_bits(9);
  std::vector<size_t> sizes = {0,
                               1,
                               p.min_size - 1,
                               p.min_size,
                               p.min_size + 1,
                               p.avg_size - 1,
                               p.avg_size,
                               p.avg_size + 1,
                               p.max_size - 1,
                               p.max_size,
                               p.max_size + 1,
                               2 * p.max_size,
                               2 * p.max_size + 1};
  std::mt19937_64 rng(11);
  for (int i = 0; i < 40; ++i) sizes.push_back(rng() % 300000);
  const size_t segment_sizes[] = {1,          7,    100,   p.min_size,
                                  p.max_size, 4096, 65536, kDefaultSegmentSize};
  for (size_t size : sizes) {
    for (int kind = 0; kind < 2; ++kind) {
      const auto data = kind == 0 ? random_bytes(size, size) : low_entropy_bytes(size, size);
      for (bool at_end : {true, false}) {
        const auto expected = chunk_and_hash(data, p, 1000, at_end);
        for (size_t segment : segment_sizes) {
          // Tiny segments on big inputs only make the test slow.
          if (segment < 64 && size > 20000) continue;
          ASSERT_EQ(chunk_and_hash_parallel(data, p, 1000, at_end, segment), expected)
              << "size " << size << " kind " << kind << " at_end " << at_end << " segment "
              << segment;
        }
      }
    }
  }
  EXPECT_THROW(chunk_and_hash_parallel({}, p, 0, true, 0), std::invalid_argument);
}

TEST(ParallelChunker, SameChunksAsSequentialOnLargeInputs) {
  for (unsigned bits : {10u, 13u}) {
    const ChunkParams p = ChunkParams::for_bits(bits);
    const auto data = random_bytes(5 << 20, bits);
    const auto expected = chunk_and_hash(data, p);
    EXPECT_EQ(chunk_and_hash_parallel(data, p, 0, true, 256 << 10), expected);
    EXPECT_EQ(chunk_and_hash_parallel(data, p), expected);
    const auto runs = low_entropy_bytes(5 << 20, bits);
    EXPECT_EQ(chunk_and_hash_parallel(runs, p, 0, true, 256 << 10), chunk_and_hash(runs, p));
  }
}

TEST(FileHasher, WindowsGiveTheChunksOfTheWholeBuffer) {
  const ChunkParams p = ChunkParams::for_bits(9);
  const size_t window = p.max_size + 1000;
  std::mt19937_64 rng(12);
  std::vector<size_t> sizes = {0, 1, window - 1, window, window + 1, 2 * window, 3 * window + 7};
  for (int i = 0; i < 20; ++i) sizes.push_back(rng() % 100000);
  for (size_t size : sizes) {
    for (int kind = 0; kind < 2; ++kind) {
      const auto data = kind == 0 ? random_bytes(size, size + 1) : low_entropy_bytes(size, size);
      const auto expected = chunk_and_hash(data, p);
      fsio::UniqueFd fd = memfd_with(data);
      for (size_t w : {window, size_t{p.max_size} * 3, kHashWindow}) {
        FileHashes h = hash_file(fd.get(), p, w, 3000);
        ASSERT_EQ(h.error, 0);
        EXPECT_EQ(h.digest, digest_bytes(data.data(), data.size())) << "size " << size;
        const MerkleTree want = MerkleTree::build(expected, p);
        ASSERT_EQ(h.tree.nodes().size(), want.nodes().size()) << "size " << size << " w " << w;
        EXPECT_EQ(h.tree.root_hash(), want.root_hash()) << "size " << size << " w " << w;
        EXPECT_EQ(h.tree.size(), size);
        // Without the whole-file digest: the same tree, and no digest.
        FileHashes tree_only = hash_file(fd.get(), p, w, 3000, WholeDigest::skip);
        ASSERT_EQ(tree_only.error, 0);
        EXPECT_EQ(tree_only.tree.root_hash(), want.root_hash()) << "size " << size;
        EXPECT_EQ(tree_only.digest, Digest128{});
      }
      FileHashes in_memory = hash_bytes(data, p);
      EXPECT_EQ(in_memory.tree.root_hash(), MerkleTree::build(expected, p).root_hash());
      EXPECT_EQ(in_memory.digest, digest_bytes(data.data(), data.size()));
    }
  }
  EXPECT_THROW(hash_file(0, p, p.max_size), std::invalid_argument);
}

TEST(FileHasher, ManyFilesAtOnce) {
  std::vector<fsio::UniqueFd> owned;
  std::vector<int> fds;
  std::vector<ChunkParams> params;
  std::vector<std::vector<uint8_t>> contents;
  for (size_t i = 0; i < 12; ++i) {
    contents.push_back(random_bytes(i * 37000, i));
    owned.push_back(memfd_with(contents.back()));
    fds.push_back(owned.back().get());
    params.push_back(chunk_params_for_size(contents.back().size()));
  }
  const auto hashes = hash_files(fds, params);
  ASSERT_EQ(hashes.size(), fds.size());
  for (size_t i = 0; i < fds.size(); ++i) {
    EXPECT_EQ(hashes[i].error, 0);
    EXPECT_EQ(hashes[i].digest, digest_bytes(contents[i].data(), contents[i].size()));
    EXPECT_EQ(hashes[i].tree.root_hash(), hash_bytes(contents[i], params[i]).tree.root_hash());
  }
}

TEST(FileHasher, ReportsReadErrors) {
  const ChunkParams p = ChunkParams::for_bits(9);
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  fsio::UniqueFd r(pipe_fds[0]), w(pipe_fds[1]);
  EXPECT_EQ(hash_file(r.get(), p).error, ESPIPE);
  EXPECT_EQ(hash_file(-1, p).error, EBADF);
}

}  // namespace
}  // namespace arsync::merkle
