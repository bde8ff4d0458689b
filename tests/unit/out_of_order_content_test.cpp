// The receiving engine with content that arrives out of order within a file, as the ranges
// of a large file do over QUIC: every file lands exactly, a damaged piece is caught by the
// whole-file hash and asked for again, and pieces that cannot belong together fail only
// their file, leaving no temporary file behind.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "arsync/engine/memory_channel.h"
#include "arsync/engine/receiver.h"
#include "arsync/engine/sender.h"
#include "tests/unit/engine_run.h"
#include "tests/unit/scratch_tree.h"

namespace arsync::engine {
namespace {

namespace fs = std::filesystem;

// Holds each file's chunks until its last one, then hands them over shuffled (with an
// optional hook to damage them first).
class ReorderingChannel final : public ReceiverChannel {
 public:
  explicit ReorderingChannel(MemoryChannel& inner, unsigned seed) : inner_(inner), rng_(seed) {}
  std::function<void(std::vector<ContentChunk>&)> on_file;

  std::optional<fsio::DirBatch> next_batch() override { return inner_.next_batch(); }
  bool carries_delta() const override { return inner_.carries_delta(); }
  void request(RequestMessage r) override { inner_.request(std::move(r)); }
  void end_requests() override { inner_.end_requests(); }
  std::optional<ContentMessage> next_content() override {
    while (ready_.empty()) {
      auto message = inner_.next_content();
      if (!message) return std::nullopt;
      auto* chunk = std::get_if<ContentChunk>(&*message);
      if (!chunk) return message;
      auto& held = held_[chunk->id];
      const bool last = chunk->last;
      held.push_back(std::move(*chunk));
      if (!last) continue;
      std::shuffle(held.begin(), held.end(), rng_);
      if (on_file) on_file(held);
      for (auto& c : held) ready_.push_back(std::move(c));
      held_.erase(held_.find(ready_.back().id));
    }
    ContentMessage out = std::move(ready_.front());
    ready_.pop_front();
    return out;
  }

 private:
  MemoryChannel& inner_;
  std::mt19937 rng_;
  std::map<uint64_t, std::vector<ContentChunk>> held_;
  std::deque<ContentChunk> ready_;
};

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

class OutOfOrderContentTest : public testing::ScratchTreeTest {
 protected:
  EngineOutcome run(ReorderingChannel& receiver_side, MemoryChannel& sender_side) {
    SyncOptions options;
    options.recursive = options.perms = options.times = true;
    return run_engine(src_, dst_, options, receiver_side, sender_side);
  }

  // Files of many sizes: empty, one chunk, several chunks, not a multiple of a chunk.
  void make_files() {
    const size_t sizes[] = {0, 1, 4096, 256 * 1024, 256 * 1024 + 1, 3 * 1024 * 1024 + 77};
    for (size_t i = 0; i < std::size(sizes); ++i) {
      write_file(src_ / ("f" + std::to_string(i)), random_bytes(sizes[i], unsigned(i + 1)));
    }
  }

  void expect_same_trees() {
    for (const auto& e : fs::directory_iterator(src_)) {
      EXPECT_EQ(read_file(dst_ / e.path().filename()), read_file(e.path())) << e.path();
    }
  }

  void expect_no_temp_files() {
    for (const auto& e : fs::recursive_directory_iterator(dst_))
      EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
  }
};

TEST_F(OutOfOrderContentTest, ChunksInAnyOrderLandExactly) {
  make_files();
  for (unsigned seed = 1; seed <= 5; ++seed) {
    fs::remove_all(dst_);
    fs::create_directories(dst_);
    MemoryChannel channel(false);
    ReorderingChannel reorder(channel, seed);
    EngineOutcome out = run(reorder, channel);
    EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
    expect_same_trees();
    expect_no_temp_files();
  }
}

TEST_F(OutOfOrderContentTest, ADamagedChunkIsCaughtAndTheFileAskedForAgain) {
  make_files();
  MemoryChannel channel(false);
  ReorderingChannel reorder(channel, 7);
  int damaged = 0;
  reorder.on_file = [&](std::vector<ContentChunk>& chunks) {
    for (auto& c : chunks) {
      if (damaged == 0 && c.data.size() > 1000) {
        c.data[500] ^= 1;
        ++damaged;
      }
    }
  };
  EngineOutcome out = run(reorder, channel);
  EXPECT_EQ(damaged, 1);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same_trees();
  expect_no_temp_files();
}

TEST_F(OutOfOrderContentTest, PiecesThatOverlapFailOnlyTheirFile) {
  make_files();
  MemoryChannel channel(false);
  ReorderingChannel reorder(channel, 9);
  uint64_t broken = 0;
  reorder.on_file = [&](std::vector<ContentChunk>& chunks) {
    if (broken != 0 || chunks.size() < 3) return;
    broken = chunks.front().id;
    for (auto& c : chunks) {
      if (!c.last && c.offset != 0) {
        c.offset -= 10;  // overlaps the piece before it
        break;
      }
    }
  };
  EngineOutcome out = run(reorder, channel);
  EXPECT_NE(broken, 0u);
  EXPECT_EQ(out.exit_code, kExitPartial) << out.errors;
  EXPECT_NE(out.errors.find("overlap"), std::string::npos) << out.errors;
  size_t landed = 0;
  for (const auto& e : fs::directory_iterator(src_)) {
    if (fs::exists(dst_ / e.path().filename())) {
      ++landed;
      EXPECT_EQ(read_file(dst_ / e.path().filename()), read_file(e.path())) << e.path();
    }
  }
  EXPECT_EQ(landed, 5u);  // all but the broken one
  expect_no_temp_files();
}

}  // namespace
}  // namespace arsync::engine
