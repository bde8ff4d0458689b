// Symlinks planted in the destination must never be written through, and error cases
// must produce rsync's exit codes.
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

namespace e2e {
namespace {

// --- Safety -------------------------------------------------------------------

class SafetyTest : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    TreeBuilder(src())
        .file("sub/file", "from src\n")
        .file("sub/deeper/x", "x\n")
        .file("f", "regular file in src\n")
        .finish();
    // Victims outside the destination. Identical layout for both programs.
    for (const char* w : {"t", "o"}) {
      std::string out = path(std::string(w) + "/outside");
      TreeBuilder(out)
          .file("victim", "do not touch\n", 0644, ts(1500000000, 1))
          .file("dir/file", "do not overwrite\n", 0644, ts(1500000000, 2))
          .finish();
    }
  }

  // Plants `dst/name -> target` in both working dirs.
  void plantLink(const std::string& name, const std::string& target_in_workdir, bool absolute) {
    prepareBoth([&](const std::string& w) {
      std::string target = absolute ? w + "/" + target_in_workdir : target_in_workdir;
      TreeBuilder(w + "/dst").symlink(name, target).finish();
    });
  }

  void expectOutsideUntouched(const Snapshot& before) {
    CompareOptions strict;
    strict.identity = true;
    EXPECT_TRUE(sameSnapshot(before, snapshot(inTool("outside")), strict))
        << "something outside dst was modified";
  }

  void expectReplacedByRealEntries() {
    struct stat st;
    ASSERT_EQ(lstat(inTool("dst/sub").c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << "dst/sub must become a real directory";
    ASSERT_EQ(lstat(inTool("dst/f").c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode)) << "dst/f must become a regular file";
    EXPECT_TRUE(sameTree(src(), inTool("dst")));
  }
};

TEST_F(SafetyTest, AbsoluteSymlinksInDestinationAreReplacedNotFollowed) {
  plantLink("sub", "outside/dir", /*absolute=*/true);
  plantLink("f", "outside/victim", /*absolute=*/true);
  Snapshot before = snapshot(inTool("outside"));
  auto both = runBoth({"-a", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  expectOutsideUntouched(before);
  expectReplacedByRealEntries();
  expectSameAsOracle(both, "dst");
}

TEST_F(SafetyTest, RelativeSymlinksInDestinationAreReplacedNotFollowed) {
  plantLink("sub", "../outside/dir", /*absolute=*/false);
  plantLink("f", "../outside/victim", /*absolute=*/false);
  Snapshot before = snapshot(inTool("outside"));
  auto both = runBoth({"-a", "-i", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  expectOutsideUntouched(before);
  expectReplacedByRealEntries();
  expectSameAsOracle(both, "dst");
  EXPECT_TRUE(sameLines(itemizeLines(both.oracle.out), itemizeLines(both.tool.out)));
}

// Also without -l/-t etc.: plain -r must not follow either.
TEST_F(SafetyTest, RecursiveOnlyCopyDoesNotFollowPlantedLinks) {
  plantLink("sub", "outside/dir", /*absolute=*/true);
  plantLink("f", "outside/victim", /*absolute=*/true);
  Snapshot before = snapshot(inTool("outside"));
  auto both = runBoth({"-r", "../src/", "dst/"});
  expectOutsideUntouched(before);
  expectSameAsOracle(both, "dst", CompareOptions::noTimes());
}

// --delete removes the planted link itself, never what it points to.
TEST_F(SafetyTest, DeleteRemovesPlantedLinkNotItsTarget) {
  plantLink("gone", "outside/dir", /*absolute=*/true);
  Snapshot before = snapshot(inTool("outside"));
  auto both = runBoth({"-a", "--delete", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  expectOutsideUntouched(before);
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

// --- Errors ---------------------------------------------------------------------

class ErrorTest : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    TreeBuilder(src()).file("a", "a\n").file("d/b", "b\n").file("secret", "s\n").finish();
  }
};

// rsync: exit 1; stderr "rsync: --bogus-option: unknown option" followed by
// "rsync error: syntax or usage error (code 1) at main.c(...)".
TEST_F(ErrorTest, UnknownOptionIsUsageError) {
  auto both = runBoth({"--bogus-option", "../src/", "dst/"});
  EXPECT_EQ(both.oracle.exit_code, 1);
  EXPECT_EQ(both.tool.exit_code, 1) << both.tool.describe();
  EXPECT_TRUE(contains(splitLines(both.tool.err).empty() ? "" : splitLines(both.tool.err)[0],
                       "--bogus-option"))
      << "first stderr line should name the option\n"
      << both.tool.describe();
  EXPECT_EQ(both.tool.out, "");
  EXPECT_TRUE(snapshot(inTool("dst")).empty()) << "nothing may be created on a usage error";
}

// rsync refuses --inplace with --partial-dir; arsync also refuses a relative --partial-dir
// that leaves the file's directory.
TEST_F(ErrorTest, InplaceWithPartialDirAndEscapingPartialDirAreUsageErrors) {
  auto both = runBoth({"-a", "--inplace", "--partial-dir=.p", "../src/", "dst/"});
  EXPECT_EQ(both.oracle.exit_code, 1);
  EXPECT_EQ(both.tool.exit_code, 1) << both.tool.describe();
  auto up = tool({"-a", "--partial-dir=../up", "../src/", "dst/"});
  EXPECT_EQ(up.exit_code, 1) << up.describe();
  EXPECT_TRUE(contains(up.err, "--partial-dir")) << up.describe();
  EXPECT_TRUE(snapshot(inTool("dst")).empty());
}

// A relative --partial-dir is neither sent nor deleted: rsync adds an exclude rule for it
// after all other rules. A partial file of a file that is transferred is that transfer's
// basis, and goes once the file is complete.
TEST_F(ErrorTest, PartialDirIsNeitherSentNorDeleted) {
  TreeBuilder(src()).file(".arsync-partial/a", "source side partial\n").finish();
  prepareBoth([&](const std::string& w) {
    TreeBuilder(w + "/dst")
        .file(".arsync-partial/other", "kept\n")
        .file("d/.arsync-partial/other", "kept\n")
        .file("d/.arsync-partial/b", "used\n")
        .file("extra", "goes\n")
        .finish();
  });
  auto both = runBoth({"-a", "--delete", "--partial-dir=.arsync-partial", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  expectSameAsOracle(both, "dst", CompareOptions::noTimes());
  const std::set<std::string> paths = pathsIn(inTool("dst"));
  EXPECT_TRUE(paths.count(".arsync-partial/other")) << joinPaths(paths);
  EXPECT_TRUE(paths.count("d/.arsync-partial/other")) << joinPaths(paths);
  EXPECT_FALSE(paths.count("d/.arsync-partial/b")) << joinPaths(paths);
  EXPECT_FALSE(paths.count(".arsync-partial/a")) << joinPaths(paths);
  EXPECT_FALSE(paths.count("extra")) << joinPaths(paths);
}

// rsync: exit 1; the usage text goes to stdout and a single "syntax or usage error" line
// to stderr.
TEST_F(ErrorTest, NoArgumentsIsUsageError) {
  auto both = runBoth({});
  EXPECT_EQ(both.oracle.exit_code, 1);
  EXPECT_EQ(both.tool.exit_code, 1) << both.tool.describe();
  EXPECT_FALSE(both.tool.err.empty()) << both.tool.describe();
}

// rsync: exit 23, 'rsync: [sender] link_stat "/abs/path/nosuch" failed: No such file or
// directory (2)'; the destination directory is still created.
TEST_F(ErrorTest, MissingSourceExits23AndNamesIt) {
  auto both = runBoth({"-a", "../nosuch", "dst/"});
  EXPECT_EQ(both.oracle.exit_code, 23);
  expectSameAsOracle(both, "dst", CompareOptions::noTimes());
  EXPECT_TRUE(contains(both.tool.err, "nosuch")) << both.tool.describe();
  EXPECT_TRUE(contains(both.tool.err, "No such file or directory")) << both.tool.describe();
}

// With a trailing slash rsync reports 'change_dir "..." failed' instead; same code.
TEST_F(ErrorTest, MissingSourceDirWithSlashExits23) {
  auto both = runBoth({"-a", "../nosuch/", "dst/"});
  EXPECT_EQ(both.oracle.exit_code, 23);
  expectSameAsOracle(both, "dst", CompareOptions::noTimes());
  EXPECT_TRUE(contains(both.tool.err, "nosuch")) << both.tool.describe();
}

// The other sources are still copied.
TEST_F(ErrorTest, MissingSourceAmongOthersStillCopiesTheRest) {
  auto both = runBoth({"-a", "../nosuch", "../src/", "dst/"});
  EXPECT_EQ(both.oracle.exit_code, 23);
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

// rsync (as user nobody): exit 23,
// 'rsync: [sender] send_files failed to open "/abs/src/secret": Permission denied (13)';
// everything else is copied.
TEST_F(ErrorTest, UnreadableSourceFileExits23AndCopiesTheRest) {
  E2E_REQUIRE_ROOT("switch to user nobody (root reads any file)");
  ASSERT_EQ(chmod((src() + "/secret").c_str(), 0), 0);
  prepareBoth([](const std::string& w) {
    TreeBuilder(w + "/dst").finish();
    ASSERT_EQ(chown((w + "/dst").c_str(), kNobody, kNobody), 0);
  });
  RunOptions nobody;
  nobody.prefix = asNobody();
  auto both = runBoth({"-a", "../src/", "dst/"}, nobody);
  EXPECT_EQ(both.oracle.exit_code, 23);
  EXPECT_TRUE(contains(both.tool.err, "secret")) << both.tool.describe();
  EXPECT_TRUE(contains(both.tool.err, "Permission denied")) << both.tool.describe();
  EXPECT_EQ(pathsIn(inTool("dst")), (std::set<std::string>{"a", "d", "d/b"}));
  expectSameAsOracle(both, "dst");
}

// rsync creates only the last component of the destination: a missing parent is
// exit 11 ('mkdir "/abs/missing/parent/dst" failed: No such file or directory (2)').
TEST_F(ErrorTest, DestinationParentMissingForDirectoryCopy) {
  auto both = runBoth({"-a", "../src/", "missing/parent/dst/"});
  EXPECT_EQ(both.oracle.exit_code, 11);
  EXPECT_EQ(both.tool.exit_code, both.oracle.exit_code) << both.tool.describe();
  EXPECT_TRUE(snapshot(inTool("missing")).empty()) << "no parent may be created";
  EXPECT_TRUE(contains(both.tool.err, "missing/parent/dst")) << both.tool.describe();
}

// For a single file to a new name in a missing directory rsync exits 3
// ('change_dir#3 "/abs/missing/dir" failed: No such file or directory (2)').
TEST_F(ErrorTest, DestinationParentMissingForSingleFile) {
  auto both = runBoth({"-a", "../src/a", "missing/dir/name"});
  EXPECT_EQ(both.oracle.exit_code, 3);
  EXPECT_EQ(both.tool.exit_code, both.oracle.exit_code) << both.tool.describe();
  EXPECT_TRUE(snapshot(inTool("missing")).empty());
}

// One missing level is fine: like mkdir, the last component is created.
TEST_F(ErrorTest, DestinationItselfMissingIsCreated) {
  auto both = runBoth({"-a", "../src/", "newdst"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  EXPECT_TRUE(sameTree(src(), inTool("newdst")));
  expectSameAsOracle(both, "newdst");
}

}  // namespace
}  // namespace e2e
