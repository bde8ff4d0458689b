// The engine driven in-process: the byte-stream content path a network transport uses, and a
// sender that lies, which the receiver must survive without writing outside its root.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "arsync/engine/local_sync.h"
#include "arsync/engine/memory_channel.h"
#include "arsync/engine/receiver.h"
#include "arsync/engine/sender.h"
#include "fsio/relative_path.h"
#include "merkle/file_digest.h"
#include "tests/unit/scratch_tree.h"
#include "tests/unit/tampering_channel.h"

namespace arsync::engine {
namespace {

namespace fs = std::filesystem;

class EngineTest : public testing::ScratchTreeTest {
 protected:
  static std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng());
    return out;
  }

  SyncOptions archive() const {
    SyncOptions o;
    o.recursive = o.links = o.perms = o.times = o.group = o.owner = true;
    o.devices = o.specials = true;
    return o;
  }

  fsio::UniqueFd open_dst() const {
    return fsio::UniqueFd(::open(dst_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }

  // Runs the real sender against `channel` and the receiver into dst_.
  int run_with(ReceiverChannel& receiver_side, SenderChannel& sender_side, SyncOptions options) {
    OutputOptions quiet;
    quiet.quiet = true;
    Report report(quiet, stdout, stderr_sink_);
    fsio::UniqueFd dst = open_dst();
    std::vector<fsio::SourceSpec> sources{{src_.string() + "/", {}}};
    std::thread sender([&] { run_sender(sources, options, report, sender_side); });
    run_receiver(Destination{dst.get(), false}, options, report, receiver_side);
    sender.join();
    return report.exit_code();
  }

  FILE* stderr_sink_ = stderr;
};

TEST_F(EngineTest, ByteStreamContentMatchesSource) {
  write_file(src_ / "a", random_bytes(1000, 1));
  write_file(src_ / "d/b", random_bytes(3 * 256 * 1024 + 17, 2));  // several chunks
  write_file(src_ / "d/empty", "");
  MemoryChannel channel(/*pass_fds=*/false);
  EXPECT_EQ(run_with(channel, channel, archive()), 0);
  EXPECT_EQ(read_file(dst_ / "a"), read_file(src_ / "a"));
  EXPECT_EQ(read_file(dst_ / "d/b"), read_file(src_ / "d/b"));
  EXPECT_TRUE(fs::exists(dst_ / "d/empty"));
  EXPECT_EQ(fs::file_size(dst_ / "d/empty"), 0u);
}

TEST_F(EngineTest, CorruptedContentIsCaughtByTheHashAndNeverLands) {
  write_file(src_ / "victim", random_bytes(100000, 3));
  write_file(dst_ / "victim", "old version");
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  tamper.on_content = [](ContentMessage& m) {
    if (auto* chunk = std::get_if<ContentChunk>(&m); chunk && !chunk->data.empty())
      chunk->data[chunk->data.size() / 2] ^= 0x5a;
  };
  EXPECT_EQ(run_with(tamper, channel, archive()), kExitPartial);
  EXPECT_EQ(read_file(dst_ / "victim"), "old version");
  for (const auto& e : fs::directory_iterator(dst_))
    EXPECT_EQ(e.path().filename(), "victim") << "temporary file left behind";
}

TEST_F(EngineTest, ContentCorruptedOnceIsAskedForAgainAndLands) {
  std::string content = random_bytes(300000, 4);
  write_file(src_ / "f", content);
  write_file(dst_ / "f", "old version");
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  bool corrupted = false;
  tamper.on_content = [&](ContentMessage& m) {
    auto* chunk = std::get_if<ContentChunk>(&m);
    if (chunk && !chunk->data.empty() && !corrupted) {
      chunk->data[0] ^= 1;
      corrupted = true;
    }
  };
  EXPECT_EQ(run_with(tamper, channel, archive()), kExitOk);
  EXPECT_TRUE(corrupted);
  EXPECT_EQ(read_file(dst_ / "f"), content);
}

TEST_F(EngineTest, FileVanishingBeforeItIsSentGives24) {
  write_file(src_ / "keep", "k");
  write_file(src_ / "gone", "g");
  MemoryChannel channel(true);
  TamperingChannel tamper(channel);
  bool removed = false;
  tamper.on_request = [&](RequestMessage&) {
    if (!removed) removed = fs::remove(src_ / "gone");
  };
  EXPECT_EQ(run_with(tamper, channel, archive()), kExitVanished);
  EXPECT_TRUE(removed);
  EXPECT_FALSE(fs::exists(dst_ / "gone"));
}

// A hostile sender: hand-written batches straight into the receiver.
class HostileSenderTest : public EngineTest {
 protected:
  int receive(std::vector<fsio::DirBatch> batches) {
    MemoryChannel channel(false);
    for (auto& b : batches) channel.send_batch(std::move(b));
    channel.end_list();
    std::thread server([&] {
      while (auto r = channel.next_request()) {
        for (uint64_t id : std::get<ContentRequest>(*r).ids) send_pwn(channel, id);
      }
      channel.end_content();
    });
    OutputOptions quiet;
    quiet.quiet = true;
    Report report(quiet);
    fsio::UniqueFd dst = open_dst();
    run_receiver(Destination{dst.get(), false}, archive(), report, channel);
    server.join();
    return report.exit_code();
  }

  static void send_pwn(MemoryChannel& channel, uint64_t id) {
    ContentChunk chunk;
    chunk.id = id;
    chunk.data = fsio::ByteBuffer::copy_of("pwn");
    ContentChunk end;
    end.id = id;
    end.offset = 3;
    end.last = true;
    end.digest = merkle_digest("pwn");
    channel.send_content(std::move(chunk));
    channel.send_content(std::move(end));
  }

  static fsio::Digest128 merkle_digest(const std::string& s) {
    return merkle::digest_bytes(s.data(), s.size());
  }

  static fsio::FileEntry file(const std::string& path, uint64_t id) {
    fsio::FileEntry e;
    e.path = path;
    e.type = fsio::FileType::regular;
    e.mode = 0644;
    e.size = 3;
    e.id = id;
    return e;
  }
};

TEST_F(HostileSenderTest, PathsEscapingTheRootAreRefused) {
  fs::path outside = base_ / "outside";
  fs::create_directories(outside);
  std::vector<fsio::DirBatch> batches;
  for (const std::string& bad :
       std::vector<std::string>{"../outside/x", "/tmp/abs", "a/../../x", "..", "x/./y", ""}) {
    fsio::DirBatch b;
    b.dir = std::string(fsio::parent_path(bad));
    b.complete = false;
    b.entries.push_back(file(bad, 1));
    batches.push_back(std::move(b));
  }
  fsio::DirBatch wrong_dir;  // an entry that does not live in the batch's directory
  wrong_dir.dir = "";
  wrong_dir.entries.push_back(file("sub/x", 2));
  batches.push_back(std::move(wrong_dir));
  EXPECT_EQ(receive(std::move(batches)), kExitPartial);
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_FALSE(fs::exists("/tmp/abs"));
  EXPECT_TRUE(fs::is_empty(dst_));
}

TEST_F(HostileSenderTest, SymlinkedDirectoryInDestinationIsNotWrittenThrough) {
  fs::path outside = base_ / "outside";
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, dst_ / "sub");
  fsio::DirBatch b;  // a batch for "sub" without "sub" itself being listed first
  b.dir = "sub";
  b.complete = true;
  b.entries.push_back(file("sub/x", 1));
  EXPECT_EQ(receive({std::move(b)}), kExitPartial);
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_TRUE(fs::is_symlink(dst_ / "sub"));
}

TEST_F(HostileSenderTest, RequestsOnlyWhatItListed) {
  std::vector<fsio::DirBatch> batches(1);
  batches[0].dir = "";
  batches[0].complete = true;
  batches[0].entries.push_back(file("good", 7));
  EXPECT_EQ(receive(std::move(batches)), kExitOk);
  EXPECT_EQ(read_file(dst_ / "good"), "pwn");
}

}  // namespace
}  // namespace arsync::engine
