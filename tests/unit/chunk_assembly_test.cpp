// ChunkAssembly: a file put together from chunks in any order, hashed in file order.
#include "arsync/engine/chunk_assembly.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "fsio/unique_fd.h"

namespace arsync::engine {
namespace {

class ChunkAssemblyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/arsync-assembly-XXXXXX";
    fd_ = fsio::UniqueFd(::mkstemp(path));
    ASSERT_TRUE(fd_);
    ::unlink(path);
    std::mt19937_64 rng(7);
    content_.resize(1000003);
    for (auto& b : content_) b = static_cast<uint8_t>(rng());
  }

  ContentChunk piece(uint64_t offset, uint64_t size, bool last = false) {
    ContentChunk chunk;
    chunk.id = 1;
    chunk.offset = offset;
    chunk.data = fsio::ByteBuffer::copy_of({content_.data() + offset, size});
    chunk.last = last;
    if (last) chunk.digest = merkle::digest_bytes(content_.data(), content_.size());
    return chunk;
  }

  // The content cut into pieces of `step` bytes; the last piece carries the digest.
  std::vector<ContentChunk> pieces(uint64_t step) {
    std::vector<ContentChunk> out;
    for (uint64_t at = 0; at < content_.size(); at += step) {
      uint64_t n = std::min<uint64_t>(step, content_.size() - at);
      out.push_back(piece(at, n, at + n == content_.size()));
    }
    return out;
  }

  std::vector<uint8_t> on_disk() {
    struct stat st;
    EXPECT_EQ(::fstat(fd_.get(), &st), 0);
    std::vector<uint8_t> out(static_cast<size_t>(st.st_size));
    EXPECT_EQ(::pread(fd_.get(), out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
    return out;
  }

  fsio::UniqueFd fd_;
  std::vector<uint8_t> content_;
};

TEST_F(ChunkAssemblyTest, InOrderPiecesCompleteAndVerify) {
  ChunkAssembly assembly(fd_.get());
  auto all = pieces(65536);
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_FALSE(assembly.complete());
    ASSERT_EQ(assembly.land(all[i]), 0);
  }
  EXPECT_TRUE(assembly.complete());
  EXPECT_TRUE(assembly.digest_matches());
  EXPECT_EQ(on_disk(), content_);
}

TEST_F(ChunkAssemblyTest, PiecesInAnyOrderGiveTheSameFileAndHash) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    ASSERT_EQ(::ftruncate(fd_.get(), 0), 0);
    ChunkAssembly assembly(fd_.get());
    auto all = pieces(4096 + seed * 1000);
    std::mt19937 rng(seed);
    std::shuffle(all.begin(), all.end(), rng);
    for (auto& chunk : all) {
      EXPECT_FALSE(assembly.complete());
      ASSERT_EQ(assembly.land(chunk), 0);
    }
    EXPECT_TRUE(assembly.complete()) << "seed " << seed;
    EXPECT_TRUE(assembly.digest_matches()) << "seed " << seed;
    EXPECT_EQ(on_disk(), content_);
    EXPECT_EQ(assembly.contiguous(), content_.size());
  }
}

TEST_F(ChunkAssemblyTest, ContiguousCountsOnlyTheStartBeforeAGap) {
  ChunkAssembly assembly(fd_.get());
  ASSERT_EQ(assembly.land(piece(0, 100)), 0);
  ASSERT_EQ(assembly.land(piece(300, 100)), 0);
  EXPECT_EQ(assembly.contiguous(), 100u);
  ASSERT_EQ(assembly.land(piece(100, 200)), 0);
  EXPECT_EQ(assembly.contiguous(), 400u);
  EXPECT_FALSE(assembly.complete());
}

TEST_F(ChunkAssemblyTest, ADamagedPieceFailsTheHash) {
  ChunkAssembly assembly(fd_.get());
  auto all = pieces(65536);
  all[3].data[17] ^= 1;
  std::reverse(all.begin(), all.end());
  for (auto& chunk : all) ASSERT_EQ(assembly.land(chunk), 0);
  EXPECT_TRUE(assembly.complete());
  EXPECT_FALSE(assembly.digest_matches());
}

TEST_F(ChunkAssemblyTest, PiecesThatCannotBelongToTheFileAreRefused) {
  {
    ChunkAssembly assembly(fd_.get());
    ASSERT_EQ(assembly.land(piece(1000, 100)), 0);
    EXPECT_EQ(assembly.land(piece(1050, 100)), EBADMSG);  // overlaps a stretch ahead
    EXPECT_EQ(assembly.land(piece(950, 100)), EBADMSG);   // overlaps its start
  }
  {
    ChunkAssembly assembly(fd_.get());
    ASSERT_EQ(assembly.land(piece(0, 100)), 0);
    EXPECT_EQ(assembly.land(piece(50, 10)), EBADMSG);  // inside what is already hashed
  }
  {
    ChunkAssembly assembly(fd_.get());
    ASSERT_EQ(assembly.land(piece(500, 100, true)), 0);
    EXPECT_EQ(assembly.land(piece(550, 100)), EBADMSG);        // past the announced end
    EXPECT_EQ(assembly.land(piece(100, 100, true)), EBADMSG);  // a second last piece
  }
  {
    ChunkAssembly assembly(fd_.get());
    ASSERT_EQ(assembly.land(piece(800, 100)), 0);
    EXPECT_EQ(assembly.land(piece(0, 100, true)), EBADMSG);  // an end before data that came
  }
  {
    ChunkAssembly assembly(fd_.get());
    ContentChunk huge = piece(0, 1);
    huge.offset = UINT64_MAX;
    EXPECT_EQ(assembly.land(huge), EBADMSG);  // offset + size wraps
  }
}

TEST_F(ChunkAssemblyTest, TheNumberOfStretchesAheadIsBounded) {
  ChunkAssembly assembly(fd_.get());
  // Single bytes with gaps between them, past the start: each one a stretch.
  int last = 0;
  for (size_t i = 0; i <= ChunkAssembly::kMaxStretchesAhead; ++i) {
    ContentChunk chunk;
    chunk.offset = 2 + 2 * i;
    chunk.data = fsio::ByteBuffer::copy_of(std::string_view("x"));
    last = assembly.land(chunk);
    if (last) break;
  }
  EXPECT_EQ(last, EBADMSG);
}

TEST_F(ChunkAssemblyTest, AnEmptyFileIsOneEmptyLastPiece) {
  ChunkAssembly assembly(fd_.get());
  ContentChunk chunk;
  chunk.last = true;
  chunk.digest = merkle::digest_bytes(nullptr, 0);
  ASSERT_EQ(assembly.land(chunk), 0);
  EXPECT_TRUE(assembly.complete());
  EXPECT_TRUE(assembly.digest_matches());
}

}  // namespace
}  // namespace arsync::engine
