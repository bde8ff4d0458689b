// Delta transfers through the engine (sender, receiver and the in-memory channel): files
// that exist at the destination are rebuilt from the basis and a recipe, exactly; the
// stats show what was saved; and every way a delta can go wrong (a basis that changes
// under it, a damaged recipe or answer, a sender that probes too much) ends with the file
// sent whole and landing right.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "arsync/engine/delta_target.h"
#include "arsync/engine/memory_channel.h"
#include "arsync/engine/receiver.h"
#include "arsync/engine/sender.h"
#include "merkle/chunk_params.h"
#include "merkle/delta_codec.h"
#include "merkle/delta_responder.h"
#include "tests/unit/engine_run.h"
#include "tests/unit/scratch_tree.h"
#include "tests/unit/tampering_channel.h"

namespace arsync::engine {
namespace {

namespace fs = std::filesystem;

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

// The old version of `content`: a few bytes changed, some inserted and some removed, so
// that most of the file is still there but shifted.
std::string older_version(std::string content, unsigned seed) {
  std::mt19937 rng(seed);
  if (content.size() < 64) return content + "old";
  for (int i = 0; i < 3; ++i) {
    size_t at = rng() % (content.size() - 32);
    switch (i) {
      case 0:
        content[at] = static_cast<char>(content[at] ^ 0x5a);
        break;
      case 1:
        content.insert(at, random_bytes(17, seed + 1));
        break;
      default:
        content.erase(at, 23);
        break;
    }
  }
  return content;
}

class DeltaEngineTest : public testing::ScratchTreeTest {
 protected:
  static SyncOptions delta_options() {
    SyncOptions o;
    o.recursive = o.perms = o.times = true;
    o.whole_file = false;
    return o;
  }

  using Outcome = EngineOutcome;

  Outcome run(ReceiverChannel& receiver_side, SenderChannel& sender_side,
              const SyncOptions& options) {
    return run_engine(src_, dst_, options, receiver_side, sender_side);
  }

  Outcome run(bool pass_fds, const SyncOptions& options = delta_options()) {
    MemoryChannel channel(pass_fds);
    return run(channel, channel, options);
  }

  // src/name holds `content`, dst/name an older version of it.
  void make_pair(const std::string& name, const std::string& content, unsigned seed) {
    write_file(dst_ / name, older_version(content, seed));
    write_file(src_ / name, content);
  }

  void expect_same(const std::string& name) {
    EXPECT_EQ(read_file(dst_ / name), read_file(src_ / name)) << name;
  }

  void expect_no_temp_files() {
    for (const auto& e : fs::recursive_directory_iterator(dst_))
      EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
  }
};

TEST_F(DeltaEngineTest, ModifiedFilesAreRebuiltExactlyFromTheBasis) {
  for (bool pass_fds : {false, true}) {
    SCOPED_TRACE(pass_fds ? "descriptors" : "byte stream");
    fs::remove_all(src_);
    fs::remove_all(dst_);
    fs::create_directories(dst_);
    const std::string big = random_bytes(3 << 20, 1);
    make_pair("big", big, 2);
    make_pair("d/mid", random_bytes(200000, 3), 4);
    make_pair("d/small", random_bytes(700, 5), 6);
    write_file(src_ / "d/new", random_bytes(5000, 7));  // nothing to delta against
    write_file(dst_ / "d/was_empty", "");
    write_file(src_ / "d/was_empty", random_bytes(3000, 8));
    write_file(dst_ / "d/now_empty", random_bytes(3000, 9));
    write_file(src_ / "d/now_empty", "");

    Outcome out = run(pass_fds);
    EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
    for (const char* name : {"big", "d/mid", "d/small", "d/new", "d/was_empty", "d/now_empty"})
      expect_same(name);
    expect_no_temp_files();
    // Most of the 3 MiB came from the basis: a few chunks around each edit were sent.
    EXPECT_GT(out.matched, (3u << 20) - 200000);
    EXPECT_LT(out.literal, 5000u + 3000u + 700u + 200000u / 2 + 100000u);
    EXPECT_EQ(out.literal + out.matched, big.size() + 200000 + 700 + 5000 + 3000);
  }
}

TEST_F(DeltaEngineTest, WholeFileSendsEverythingAsLiteral) {
  make_pair("f", random_bytes(1 << 20, 11), 12);
  SyncOptions options = delta_options();
  options.whole_file = true;
  Outcome out = run(false, options);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  EXPECT_EQ(out.literal, 1u << 20);
  EXPECT_EQ(out.matched, 0u);
  EXPECT_GE(out.sent, 1u << 20);
}

TEST_F(DeltaEngineTest, UnchangedContentWithNewMetadataCostsNoLiteralBytes) {
  const std::string content = random_bytes(500000, 13);
  write_file(dst_ / "f", content);
  write_file(src_ / "f", content);
  // An older mtime: the quick check says transfer.
  fs::last_write_time(dst_ / "f", fs::last_write_time(src_ / "f") - std::chrono::hours(1));
  Outcome out = run(false);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  EXPECT_EQ(out.literal, 0u);
  EXPECT_EQ(out.matched, content.size());
  EXPECT_LT(out.sent, 200u);  // one recipe part with one copy: no probe at all
}

// A large basis is announced before it is hashed (its signature has no root): the first
// probe waits for the hash, and an unchanged file is found by that probe.
TEST_F(DeltaEngineTest, LargeBasisAnnouncedBeforeItsHashIsRebuiltExactly) {
  const size_t size = kEarlySignatureFrom + (3 << 20);
  const std::string edited = random_bytes(size, 81);
  make_pair("edited", edited, 82);
  const std::string same = random_bytes(size, 83);
  write_file(dst_ / "same", same);
  write_file(src_ / "same", same);
  fs::last_write_time(dst_ / "same", fs::last_write_time(src_ / "same") - std::chrono::hours(1));
  Outcome out = run(false);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("edited");
  expect_same("same");
  EXPECT_LT(out.literal, 64u * 1024);
  EXPECT_EQ(out.literal + out.matched, 2 * size);
  expect_no_temp_files();
}

// More files than the receiver keeps in flight, each a delta with its own round trips:
// their exchanges interleave on the channel and every file lands right.
TEST_F(DeltaEngineTest, ManyDeltasInFlightAtOnce) {
  constexpr int kFiles = 1500;
  for (int i = 0; i < kFiles; ++i)
    make_pair("d" + std::to_string(i % 7) + "/f" + std::to_string(i),
              random_bytes(3000 + 37 * i, 100 + i), 5000 + i);
  Outcome out = run(false);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  for (int i = 0; i < kFiles; ++i)
    expect_same("d" + std::to_string(i % 7) + "/f" + std::to_string(i));
  EXPECT_GT(out.matched, 0u);
  expect_no_temp_files();
}

// The basis changes between the signature and the recipe (as a corrupted or concurrently
// written basis would): the copies bring wrong bytes, the final hash catches it, and the
// file is sent whole.
TEST_F(DeltaEngineTest, BasisChangedUnderTheDeltaFallsBackToWholeFile) {
  const std::string content = random_bytes(1 << 20, 21);
  make_pair("f", content, 22);
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  bool damaged = false;
  tamper.on_content = [&](ContentMessage& m) {
    if (std::holds_alternative<DeltaRecipe>(m) && !damaged) {
      // In place, so the open basis sees it.
      int fd = ::open((dst_ / "f").c_str(), O_WRONLY);
      ASSERT_GE(fd, 0);
      std::string junk(4096, 'x');
      ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 100000), 4096);
      ::close(fd);
      damaged = true;
    }
  };
  Outcome out = run(tamper, channel, delta_options());
  EXPECT_TRUE(damaged);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  EXPECT_NE(out.errors.find("failed verification"), std::string::npos) << out.errors;
  EXPECT_EQ(out.literal, content.size());  // sent whole in the end
  expect_no_temp_files();
}

// --inplace: a delta whose result fails verification has already overwritten the file, so
// the old version cannot come back; the file is asked for whole (and written in place)
// once more, which lands it. If that fails too, the run ends with a partial transfer (23)
// and says the update was retained.
TEST_F(DeltaEngineTest, InplaceVerificationFailureRetriesWholeThenReportsTheRetainedUpdate) {
  const std::string content = random_bytes(300000, 33);
  make_pair("f", content, 34);
  const auto inode = [&] {
    struct stat st;
    EXPECT_EQ(::stat((dst_ / "f").c_str(), &st), 0);
    return st.st_ino;
  };
  const ino_t before = inode();
  SyncOptions options = delta_options();
  options.inplace = true;
  {
    MemoryChannel channel(false);
    TamperingChannel tamper(channel);
    tamper.on_content = [&](ContentMessage& m) {
      if (auto* recipe = std::get_if<DeltaRecipe>(&m)) recipe->part.back() ^= 1;
    };
    Outcome out = run(tamper, channel, options);
    EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
    EXPECT_NE(out.errors.find("update retained (will try again)"), std::string::npos) << out.errors;
    expect_same("f");
    EXPECT_EQ(inode(), before);
  }
  write_file(src_ / "f", random_bytes(300001, 35));  // another size: not skipped
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  tamper.on_content = [&](ContentMessage& m) {
    if (auto* recipe = std::get_if<DeltaRecipe>(&m)) recipe->part.back() ^= 1;
    if (auto* chunk = std::get_if<ContentChunk>(&m); chunk && chunk->last) chunk->digest[0] ^= 1;
  };
  Outcome out = run(tamper, channel, options);
  EXPECT_EQ(out.exit_code, kExitPartial) << out.errors;
  EXPECT_NE(out.errors.find("update retained (--inplace"), std::string::npos) << out.errors;
  EXPECT_EQ(inode(), before);
  expect_no_temp_files();
}

// A recipe damaged on the way (here: its digest) fails the final check; the file is sent
// whole.
TEST_F(DeltaEngineTest, DamagedRecipeFallsBackToWholeFile) {
  make_pair("f", random_bytes(300000, 31), 32);
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  int damaged = 0;
  tamper.on_content = [&](ContentMessage& m) {
    if (auto* recipe = std::get_if<DeltaRecipe>(&m)) {
      recipe->part.back() ^= 1;
      ++damaged;
    }
  };
  Outcome out = run(tamper, channel, delta_options());
  EXPECT_GT(damaged, 0);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  expect_no_temp_files();
}

// An answer that does not decode stops the sender's descent: it sends the file whole.
TEST_F(DeltaEngineTest, MalformedAnswerMakesTheSenderSendWhole) {
  make_pair("f", random_bytes(400000, 41), 42);
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  int damaged = 0;
  tamper.on_request = [&](RequestMessage& m) {
    if (auto* answer = std::get_if<DeltaAnswer>(&m)) {
      answer->answer.push_back(0);  // trailing byte
      ++damaged;
    }
  };
  Outcome out = run(tamper, channel, delta_options());
  EXPECT_EQ(damaged, 1);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  EXPECT_EQ(out.literal, 400000u);
}

// A signature that does not decode: the sender sends the file whole at once.
TEST_F(DeltaEngineTest, MalformedSignatureMakesTheSenderSendWhole) {
  make_pair("f", random_bytes(100000, 51), 52);
  MemoryChannel channel(true);
  TamperingChannel tamper(channel);
  int damaged = 0;
  tamper.on_request = [&](RequestMessage& m) {
    if (auto* request = std::get_if<DeltaRequest>(&m)) {
      request->signature[0] = 99;  // version
      ++damaged;
    }
  };
  Outcome out = run(tamper, channel, delta_options());
  EXPECT_EQ(damaged, 1);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  EXPECT_EQ(out.literal, 100000u);
  EXPECT_EQ(out.matched, 0u);
}

// Forwards the sender's side, but ends the content stream for good once `cut_after` bytes
// of content have passed, as a connection that breaks part-way would.
class CutOffSender final : public SenderChannel {
 public:
  CutOffSender(MemoryChannel& inner, uint64_t cut_after) : inner_(inner), left_(cut_after) {}

  bool can_pass_fds() const override { return false; }
  void send_batch(fsio::DirBatch&& batch) override { inner_.send_batch(std::move(batch)); }
  void end_list() override { inner_.end_list(); }
  std::optional<RequestMessage> next_request() override { return inner_.next_request(); }
  void send_content(ContentMessage&& message) override {
    if (cut_) return;
    if (auto* chunk = std::get_if<ContentChunk>(&message)) {
      if (chunk->data.size() >= left_ || chunk->last) {
        cut_ = true;
        inner_.end_content();
        return;
      }
      left_ -= chunk->data.size();
    }
    inner_.send_content(std::move(message));
  }
  void end_content() override {
    if (!cut_) inner_.end_content();
  }

 private:
  MemoryChannel& inner_;
  uint64_t left_;
  bool cut_ = false;
};

// --partial: what arrived of an interrupted file takes its name, and the next run sends
// only the rest, by a delta against it.
TEST_F(DeltaEngineTest, PartialKeepsWhatArrivedAndTheNextRunSendsOnlyTheRest) {
  const std::string content = random_bytes(4 << 20, 91);
  write_file(src_ / "f", content);
  SyncOptions options = delta_options();
  options.partial = true;
  constexpr uint64_t kArrived = 6 * 256 * 1024;  // six of the sender's 256 KiB chunks
  {
    MemoryChannel channel(false);
    CutOffSender cut(channel, kArrived + 1);
    Outcome out = run(channel, cut, options);
    EXPECT_EQ(out.exit_code, kExitPartial) << out.errors;
  }
  ASSERT_EQ(fs::file_size(dst_ / "f"), kArrived);
  EXPECT_TRUE(read_file(dst_ / "f") == content.substr(0, kArrived));
  expect_no_temp_files();

  Outcome out = run(false, options);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
  // What arrived the first time is not sent again: a chunk or so at the cut, at most.
  EXPECT_GT(out.matched, kArrived - 16 * 1024);
  EXPECT_LT(out.literal, content.size() - kArrived + 16 * 1024);
}

// --partial-dir: what arrived of an interrupted file goes to DIR/<name>, not to its final
// name; the next run takes it as the basis, sends only the rest, and removes it.
TEST_F(DeltaEngineTest, PartialDirKeepsWhatArrivedThereAndTheNextRunUsesAndRemovesIt) {
  const std::string content = random_bytes(4 << 20, 93);
  write_file(src_ / "sub/f", content);
  SyncOptions options = delta_options();
  options.partial = true;
  options.partial_dir = "pdir";
  options.filters.add(fsio::FilterRules::Kind::exclude, "pdir/");  // as the CLI adds it
  constexpr uint64_t kArrived = 6 * 256 * 1024;
  {
    MemoryChannel channel(false);
    CutOffSender cut(channel, kArrived + 1);
    Outcome out = run(channel, cut, options);
    EXPECT_EQ(out.exit_code, kExitPartial) << out.errors;
  }
  EXPECT_FALSE(fs::exists(dst_ / "sub/f")) << "never at the final name";
  ASSERT_EQ(fs::file_size(dst_ / "sub/pdir/f"), kArrived);
  EXPECT_TRUE(read_file(dst_ / "sub/pdir/f") == content.substr(0, kArrived));
  expect_no_temp_files();

  // The source's own partial directory is never sent.
  write_file(src_ / "sub/pdir/f", "stale partial file on the sending side");
  Outcome out = run(false, options);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  EXPECT_TRUE(read_file(dst_ / "sub/f") == content);
  EXPECT_GT(out.matched, kArrived - 16 * 1024);
  EXPECT_LT(out.literal, content.size() - kArrived + 16 * 1024);
  EXPECT_FALSE(fs::exists(dst_ / "sub/pdir")) << "removed once the file is complete";
  expect_no_temp_files();
}

// Without --partial, what arrived of an interrupted file is discarded.
TEST_F(DeltaEngineTest, WithoutPartialAnInterruptedFileLeavesNothing) {
  write_file(src_ / "f", random_bytes(2 << 20, 92));
  MemoryChannel channel(false);
  CutOffSender cut(channel, 300 * 1024);
  Outcome out = run(channel, cut, delta_options());
  EXPECT_EQ(out.exit_code, kExitPartial) << out.errors;
  EXPECT_FALSE(fs::exists(dst_ / "f"));
  expect_no_temp_files();
}

// The receiver answers at most as many keys as a file of the listed size has nodes, so a
// peer cannot probe forever.
TEST_F(DeltaEngineTest, TargetRefusesProbesPastTheBudget) {
  write_file(dst_ / "basis", random_bytes(100000, 61));
  fsio::UniqueFd fd(::open((dst_ / "basis").c_str(), O_RDONLY | O_CLOEXEC));
  const uint64_t new_size = 50000;
  std::unique_ptr<DeltaTarget> target =
      DeltaTarget::open(std::move(fd), new_size, merkle::chunk_params_for_size(100000));
  ASSERT_TRUE(target);
  std::string error;
  auto signature = merkle::decode_signature(target->signature(), error);
  ASSERT_TRUE(signature) << error;
  const uint64_t budget =
      merkle::max_probe_keys(new_size, merkle::ChunkParams::for_bits(signature->chunk_bits));
  merkle::Probe probe;
  probe.keys.assign(budget / 2, 7);
  EXPECT_TRUE(target->answer(merkle::encode_probe(probe), error)) << error;
  EXPECT_TRUE(target->answer(merkle::encode_probe(probe), error)) << error;
  probe.keys.assign(budget - 2 * (budget / 2) + 1, 7);
  EXPECT_FALSE(target->answer(merkle::encode_probe(probe), error));
  EXPECT_NE(error.find("more keys"), std::string::npos) << error;
}

// A sender that probes past the budget gets a whole-file request instead of an answer.
TEST_F(DeltaEngineTest, ReceiverAsksForTheWholeFileFromASenderThatProbesTooMuch) {
  make_pair("f", random_bytes(20000, 71), 72);
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  int inflated = 0;
  tamper.on_content = [&](ContentMessage& m) {
    if (auto* probe = std::get_if<DeltaProbe>(&m); probe && inflated == 0) {
      merkle::Probe huge;
      huge.keys.assign(merkle::kMaxProbeKeys, 1);
      probe->probe = merkle::encode_probe(huge);
      ++inflated;
    }
  };
  bool asked_whole = false;
  tamper.on_request = [&](RequestMessage& m) {
    if (auto* whole = std::get_if<ContentRequest>(&m); whole && inflated > 0) asked_whole = true;
  };
  Outcome out = run(tamper, channel, delta_options());
  EXPECT_EQ(inflated, 1);
  EXPECT_TRUE(asked_whole);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("f");
}

// Many new files in many directories wait for the end of the list and are then asked for
// in slices: all are rebuilt from the files they were moved from.
TEST_F(DeltaEngineTest, ManyMovedFilesInManyDirectories) {
  constexpr int kDirs = 300;
  for (int i = 0; i < kDirs; ++i) {
    const std::string content = random_bytes(2000 + static_cast<size_t>(i), 100 + i);
    write_file(dst_ / ("old/d" + std::to_string(i)) / "f", content);
    write_file(src_ / ("new/d" + std::to_string(i)) / "f", content);
  }
  SyncOptions options = delta_options();
  options.del = true;
  Outcome out = run(false, options);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  for (int i = 0; i < kDirs; ++i) expect_same("new/d" + std::to_string(i) + "/f");
  EXPECT_FALSE(fs::exists(dst_ / "old"));
  EXPECT_EQ(out.literal, 0u);
  expect_no_temp_files();
}

// A file moved within the tree is rebuilt from its old place, which --delete removes only
// once the new one has landed.
TEST_F(DeltaEngineTest, MovedFileIsRebuiltFromItsOldPlaceThenDeleted) {
  for (bool pass_fds : {false, true}) {
    SCOPED_TRACE(pass_fds ? "descriptors" : "byte stream");
    fs::remove_all(src_);
    fs::remove_all(dst_);
    fs::create_directories(dst_);
    const std::string content = random_bytes(1 << 20, 81);
    write_file(dst_ / "old/f", content);
    write_file(src_ / "new/f", content);
    write_file(src_ / "new/g", random_bytes(5000, 82));  // nothing to copy from
    SyncOptions options = delta_options();
    options.del = true;
    Outcome out = run(pass_fds, options);
    EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
    expect_same("new/f");
    expect_same("new/g");
    EXPECT_FALSE(fs::exists(dst_ / "old"));
    EXPECT_EQ(out.literal, 5000u);
    EXPECT_EQ(out.matched, content.size());
    expect_no_temp_files();
  }
}

// The old file changes after it was hashed and before its content is copied: the result
// fails its check, and the file is sent whole.
TEST_F(DeltaEngineTest, OtherFileChangedUnderTheDeltaFallsBackToWholeFile) {
  const std::string content = random_bytes(1 << 20, 91);
  write_file(dst_ / "old/f", content);
  write_file(src_ / "new/f", content);
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  bool damaged = false;
  tamper.on_content = [&](ContentMessage& m) {
    if (std::holds_alternative<DeltaRecipe>(m) && !damaged) {
      int fd = ::open((dst_ / "old/f").c_str(), O_WRONLY);
      ASSERT_GE(fd, 0);
      std::string junk(4096, 'x');
      ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 100000), 4096);
      ::close(fd);
      damaged = true;
    }
  };
  SyncOptions options = delta_options();
  options.del = true;
  Outcome out = run(tamper, channel, options);
  EXPECT_TRUE(damaged);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("new/f");
  EXPECT_FALSE(fs::exists(dst_ / "old"));
  EXPECT_NE(out.errors.find("failed verification"), std::string::npos) << out.errors;
  EXPECT_EQ(out.literal, content.size());
  expect_no_temp_files();
}

// A recipe that copies from a file the receiver never indexed fails at once; the file is
// sent whole.
TEST_F(DeltaEngineTest, RecipeNamingAFileTheReceiverDoesNotHaveFallsBackToWholeFile) {
  const std::string content = random_bytes(300000, 95);
  write_file(dst_ / "a", content);
  write_file(src_ / "b", content);
  write_file(src_ / "a", content);
  MemoryChannel channel(false);
  TamperingChannel tamper(channel);
  int renamed = 0;
  tamper.on_content = [&](ContentMessage& m) {
    auto* recipe = std::get_if<DeltaRecipe>(&m);
    if (!recipe) return;
    std::string error;
    std::optional<merkle::RecipePart> part = merkle::decode_recipe_part(recipe->part, error);
    ASSERT_TRUE(part) << error;
    for (merkle::RecipeOp& op : part->ops) {
      if (op.kind == merkle::RecipeOp::Kind::copy && op.file != 0) {
        op.file += 1000;
        ++renamed;
      }
    }
    recipe->part = merkle::encode_recipe_part(*part);
  };
  Outcome out = run(tamper, channel, delta_options());
  EXPECT_GT(renamed, 0);
  EXPECT_EQ(out.exit_code, kExitOk) << out.errors;
  expect_same("a");
  expect_same("b");
  EXPECT_EQ(out.literal, content.size());
  expect_no_temp_files();
}

}  // namespace
}  // namespace arsync::engine
