// Interrupted runs must never leave a partially written file under its final name, and
// sparse files must stay sparse.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <thread>

#include "harness.h"

namespace e2e {
namespace {

// --- Interrupted runs ---------------------------------------------------------------

class InterruptTest : public E2ETest {
 protected:
  static constexpr off_t kBig = off_t{256} << 20;

  void SetUp() override {
    E2ETest::SetUp();
    // New version in src, old version already in dst; small files sort before and after
    // the big one so the interruption also hits a tree in progress.
    TreeBuilder(src()).file("a-small", "a\n").file("z-small", "z\n").finish();
    writePatternFile(src() + "/big", kBig, 2);
    TreeBuilder(src()).mtime("big", ts(1700000000, 2)).mtime(".", ts(1700000000, 3)).finish();
    TreeBuilder(inTool("dst")).finish();
    writePatternFile(inTool("dst/big"), kBig, 1);
    TreeBuilder(inTool("dst")).mtime("big", ts(1600000000, 1)).finish();
    new_hash_ = snapshot(src() + "/big")["."].content_hash;
    old_hash_ = snapshot(inTool("dst/big"))["."].content_hash;
    ASSERT_NE(new_hash_, old_hash_);
  }

  std::unique_ptr<Child> start() {
    RunOptions opts;
    opts.cwd = path("t");
    return std::make_unique<Child>(
        std::vector<std::string>{programUnderTest(), "-a", "../src/", "dst/"}, opts);
  }

  // "old", "new", or a description of the damage.
  std::string bigFileState() {
    Snapshot s = snapshot(inTool("dst/big"));
    if (s.empty()) return "missing";
    const Entry& e = s["."];
    if (e.type != S_IFREG) return "not a regular file";
    if (e.content_hash == old_hash_) return "old";
    if (e.content_hash == new_hash_) return "new";
    return "PARTIAL (size " + std::to_string(e.size) + ")";
  }

  // Names starting with '.' anywhere below dst: temporary files left behind.
  std::set<std::string> dotFiles() {
    std::set<std::string> result;
    for (const auto& p : pathsIn(inTool("dst"))) {
      auto slash = p.find_last_of('/');
      if (p[slash == std::string::npos ? 0 : slash + 1] == '.') result.insert(p);
    }
    return result;
  }

  // Waits until a temporary file with data shows up in dst (the copy is in progress),
  // or until `fallback` passes (a tool may use unnamed O_TMPFILE files).
  void waitForTransferInProgress(Child& child, std::chrono::milliseconds fallback) {
    auto deadline = std::chrono::steady_clock::now() + fallback;
    while (std::chrono::steady_clock::now() < deadline && child.running()) {
      for (const auto& p : dotFiles()) {
        struct stat st;
        if (lstat(inTool("dst/" + p).c_str(), &st) == 0 && st.st_size > (off_t{4} << 20)) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void expectRerunCompletes() {
    auto rerun = tool({"-a", "../src/", "dst/"});
    EXPECT_EQ(rerun.exit_code, 0) << rerun.describe();
    EXPECT_EQ(bigFileState(), "new");
  }

  uint64_t old_hash_ = 0;
  uint64_t new_hash_ = 0;
};

// SIGKILL to the whole process group: nothing can clean up, but the final name must
// still hold either the complete old or the complete new content. (Temporary files may
// be left behind; rsync leaves them too.)
TEST_F(InterruptTest, SigkillNeverLeavesPartialFileUnderFinalName) {
  auto child = start();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  child->signalGroup(SIGKILL);
  auto r = child->wait();
  std::string state = bigFileState();
  EXPECT_TRUE(state == "old" || state == "new") << state << "\n" << r.describe();
  std::printf("after SIGKILL at 30 ms: big is %s, leftovers: %s\n", state.c_str(),
              printable(joinPaths(dotFiles())).c_str());
  expectRerunCompletes();
}

// SIGTERM mid-transfer: same guarantee, and the program cleans up its temporary files
// before exiting (rsync exits 20 and removes them).
TEST_F(InterruptTest, SigtermMidTransferCleansUpAndKeepsFinalNameIntact) {
  auto child = start();
  waitForTransferInProgress(*child, std::chrono::milliseconds(150));
  child->signal(SIGTERM);
  auto r = child->wait();  // also waits for helper processes to finish their cleanup
  std::string state = bigFileState();
  EXPECT_TRUE(state == "old" || state == "new") << state << "\n" << r.describe();
  if (state == "old") {
    EXPECT_EQ(r.exit_code, 20) << r.describe();
  }
  EXPECT_TRUE(r.exit_code == 20 || r.exit_code == 0) << r.describe();
  std::printf("after SIGTERM mid-transfer: big is %s, exit code %d\n", state.c_str(), r.exit_code);
  EXPECT_EQ(joinPaths(dotFiles()), "") << "temporary files left behind";
  expectRerunCompletes();
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
}

// --- Sparse files -------------------------------------------------------------------

class SparseTest : public E2ETest {
 protected:
  static constexpr off_t kApparent = off_t{64} << 20;
  static constexpr off_t kMaxAllocated = off_t{1} << 20;

  void SetUp() override {
    E2ETest::SetUp();
    TreeBuilder(src())
        .sparse("sparse.img", kApparent,
                {{0, std::string(2048, 'a')},
                 {(off_t{5} << 20) + 123, std::string(1024, 'b')},
                 {off_t{40} << 20, std::string(1024, 'c')},
                 {kApparent - 100, std::string(100, 'd')}})
        .finish();
    if (allocated(src() + "/sparse.img") > kMaxAllocated)
      GTEST_SKIP() << "filesystem of /tmp does not support sparse files";
  }

  static off_t allocated(const std::string& p) {
    struct stat st;
    EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
    return st.st_blocks * 512;
  }
};

// arsync keeps holes without -S (rsync needs -S for that).
TEST_F(SparseTest, ArsyncOnlyArchiveKeepsSparseFilesSparse) {
  E2E_SKIP_IF_TESTING_RSYNC();
  auto r = tool({"-a", "../src/", "dst/"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  EXPECT_LT(allocated(inTool("dst/sparse.img")), kMaxAllocated);
}

TEST_F(SparseTest, SparseOptionKeepsSparseFilesSparse) {
  auto both = runBoth({"-aS", "../src/", "dst/"});
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  EXPECT_LT(allocated(inTool("dst/sparse.img")), kMaxAllocated);
  EXPECT_LT(allocated(inOracle("dst/sparse.img")), kMaxAllocated);
  expectSameAsOracle(both, "dst");
}

}  // namespace
}  // namespace e2e
