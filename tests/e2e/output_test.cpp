// The quick check (what gets transferred) and what the program prints about it:
// --itemize-changes, --dry-run, --verbose, --quiet and --stats.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "harness.h"

namespace e2e {
namespace {

class OutputTest : public E2ETest {
 protected:
  // Gives t/dst and o/dst the same starting state: an rsync -a copy of src (rsync is
  // used for both so that only the run under test can differ).
  void syncBothWithOracle(const std::vector<std::string>& extra_flags = {}) {
    prepareBoth([&](const std::string& w) {
      std::vector<std::string> argv = {e2e::oraclePath(), "-a"};
      argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
      argv.push_back(src() + "/");
      argv.push_back(w + "/dst/");
      auto r = runCommand(argv);
      ASSERT_EQ(r.exit_code, 0) << r.describe();
    });
  }

  void expectSameItemize(const Both& both) {
    EXPECT_TRUE(sameLines(itemizeLines(both.oracle.out), itemizeLines(both.tool.out)))
        << "program under test: " << both.tool.describe();
  }

  void expectSameVerbose(const Both& both) {
    EXPECT_TRUE(sameLines(verboseNameLines(both.oracle.out), verboseNameLines(both.tool.out)))
        << "program under test: " << both.tool.describe();
  }

  // Overwrites both destinations' copy of `rel` with `content` and `mtime`; directory
  // times are reset to the source's so that only this file differs.
  void rewriteInBothDsts(const std::string& rel, const std::string& content, timespec mtime) {
    prepareBoth([&](const std::string& w) {
      TreeBuilder(w + "/dst").file(rel, content, 0644, mtime).mtime(".", mtimeOf(src())).finish();
    });
  }

  static timespec mtimeOf(const std::string& p) {
    struct stat st;
    EXPECT_EQ(lstat(p.c_str(), &st), 0) << p;
    return st.st_mtim;
  }
};

// --- Quick check ----------------------------------------------------------------

class QuickCheckTest : public OutputTest {};

TEST_F(QuickCheckTest, RerunWithNothingChangedTransfersNothing) {
  buildTrickyTree(src());
  auto first = tool({"-a", "../src/", "dst/"});
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  ASSERT_EQ(oracle({"-a", "../src/", "dst/"}).exit_code, 0);
  Snapshot before = snapshot(inTool("dst"));
  auto both = runBoth({"-a", "-i", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  EXPECT_EQ(joinLines(itemizeLines(both.tool.out)), "");
  expectSameItemize(both);
  // Not even rewritten in place or re-chmodded: same inodes and ctimes. (Except that a
  // non-root rsync briefly makes read-only dirs writable on every run: dir ctimes change.)
  CompareOptions strict;
  strict.identity = true;
  strict.identity_dir_ctime = isRoot();
  EXPECT_TRUE(sameSnapshot(before, snapshot(inTool("dst")), strict));
}

TEST_F(QuickCheckTest, SameSizeAndMtimeIsSkippedUnlessChecksum) {
  const timespec t = ts(1600000000, 500000000);
  TreeBuilder(src()).file("f", "hello\n", 0644, t).finish();
  syncBothWithOracle();
  rewriteInBothDsts("f", "HELLO\n", t);  // same size, same mtime, other bytes

  auto plain = runBoth({"-a", "-i", "../src/", "dst/"});
  expectSameItemize(plain);
  EXPECT_EQ(joinLines(itemizeLines(plain.tool.out)), "");
  Snapshot stale = snapshot(inTool("dst/f"));
  EXPECT_EQ(stale["."].content_hash, snapshot(inOracle("dst/f"))["."].content_hash);
  EXPECT_NE(stale["."].content_hash, snapshot(src() + "/f")["."].content_hash)
      << "without -c a same-size same-mtime file must not be transferred";

  auto checksum = runBoth({"-a", "-c", "-i", "../src/", "dst/"});
  expectSameItemize(checksum);
  EXPECT_EQ(joinLines(itemizeLines(checksum.oracle.out)), ">fc........ f\n");
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(checksum, "dst");
}

// rsync 3.x compares mtimes with whole-second granularity by default (modify-window 0):
// a difference in nanoseconds only is not a change, and the destination keeps its own
// nanoseconds. Same for directories.
TEST_F(QuickCheckTest, NanosecondOnlyMtimeDifferenceIsNotAChange) {
  TreeBuilder(src()).file("f", "hello\n", 0644, ts(1600000000, 123456789)).finish();
  syncBothWithOracle();
  rewriteInBothDsts("f", "HELLO\n", ts(1600000000, 999));  // same second, other ns

  auto both = runBoth({"-a", "-i", "../src/", "dst/"});
  expectSameItemize(both);
  EXPECT_EQ(joinLines(itemizeLines(both.tool.out)), "");
  Snapshot dst = snapshot(inTool("dst/f"));
  EXPECT_EQ(dst["."].mtime.tv_nsec, 999);
  EXPECT_NE(dst["."].content_hash, snapshot(src() + "/f")["."].content_hash);
  expectSameAsOracle(both, "dst");
}

TEST_F(QuickCheckTest, WholeSecondMtimeDifferenceWithSameContentFixesTimeOnly) {
  TreeBuilder(src()).file("f", "hello\n", 0644, ts(1600000000, 7)).finish();
  syncBothWithOracle();
  rewriteInBothDsts("f", "hello\n", ts(1600000001, 7));
  auto both = runBoth({"-a", "-i", "../src/", "dst/"});
  expectSameItemize(both);
  EXPECT_EQ(joinLines(itemizeLines(both.oracle.out)), ">f..t...... f\n");
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

TEST_F(QuickCheckTest, SizeDifferenceIsTransferred) {
  TreeBuilder(src()).file("f", "hello world\n", 0644, ts(1600000000, 7)).finish();
  syncBothWithOracle();
  rewriteInBothDsts("f", "hello\n", ts(1600000000, 7));  // same mtime, other size
  auto both = runBoth({"-a", "-i", "../src/", "dst/"});
  expectSameItemize(both);
  EXPECT_EQ(joinLines(itemizeLines(both.oracle.out)), ">f.s....... f\n");
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

// --- Itemize ----------------------------------------------------------------------

class ItemizeTest : public OutputTest {};

TEST_F(ItemizeTest, NewTree) {
  buildTrickyTree(src());
  auto both = runBoth({"-a", "-i", "../src/", "dst/"});
  expectSameItemize(both);
  auto lines = itemizeLines(both.oracle.out);
  for (const char* expected :
       {"cd+++++++++ ./", ">f+++++++++ plain.txt", "cL+++++++++ link-rel -> plain.txt",
        "cd+++++++++ empty/", "cS+++++++++ fifo"})
    EXPECT_TRUE(std::count(lines.begin(), lines.end(), expected)) << expected;
  expectSameAsOracle(both, "dst");
}

TEST_F(ItemizeTest, NewTreeWithHardlinks) {
  buildTrickyTree(src());
  auto both = runBoth({"-aH", "-i", "../src/", "dst/"});
  expectSameItemize(both);
  // rsync sends the last name of a group (in its sort order) and links the others to it.
  EXPECT_TRUE(contains(both.oracle.out, "hf+++++++++ sub/pair1 => sub/pair2\n")) << both.oracle.out;
  expectSameAsOracle(both, "dst");
}

TEST_F(ItemizeTest, NoChangeRerunPrintsNothing) {
  buildTrickyTree(src());
  syncBothWithOracle({"-H"});
  auto both = runBoth({"-aH", "-i", "../src/", "dst/"});
  EXPECT_EQ(both.tool.out, "") << both.tool.describe();
  expectSameItemize(both);
}

// One run exercising each kind of change, each with a distinct itemize string.
TEST_F(ItemizeTest, EachKindOfChange) {
  {
    TreeBuilder b(src());
    b.file("same.txt", "same\n", 0644, ts(1600000000, 1));
    b.file("changed.txt", "v1\n", 0644, ts(1600000000, 2));
    b.file("perm.txt", "perm\n", 0644, ts(1600000000, 3));
    b.file("time.txt", "time\n", 0644, ts(1600000000, 4));
    b.file("gone.txt", "gone\n", 0644, ts(1600000000, 5));
    b.file("gonedir/inner", "x\n", 0644, ts(1600000000, 6));
    b.symlink("retarget", "old-target", ts(1600000000, 7));
    b.file("owner.txt", "o\n", 0644, ts(1600000000, 8));
    b.file("dir/x", "x\n", 0644, ts(1600000000, 9));
    b.file("hl1", "linked\n", 0644, ts(1600000000, 10));
    b.finish();
  }
  syncBothWithOracle({"-H"});
  {
    TreeBuilder b(src());
    b.file("changed.txt", "version 2\n", 0644, ts(1600000100, 2));  // size + time
    b.file("perm.txt", "perm\n", 0600, ts(1600000000, 3));          // perms only
    b.file("time.txt", "time\n", 0644, ts(1600000200, 4));          // time only
    ASSERT_EQ(unlink((src() + "/gone.txt").c_str()), 0);
    removeTree(src() + "/gonedir");
    ASSERT_EQ(unlink((src() + "/retarget").c_str()), 0);
    b.symlink("retarget", "new-target!", ts(1600000000, 7));
    b.symlink("newlink", "same.txt", ts(1600000000, 11));
    b.dir("newdir");
    b.file("newdir/f", "f\n", 0644, ts(1600000000, 12));
    b.hardlink("hl1", "hl2");
    if (isRoot()) b.owner("owner.txt", 4242, 4343);
    b.mtime("dir", ts(1600000300, 0));  // dir time only
    b.finish();
  }
  auto both = runBoth({"-aH", "-i", "--delete", "../src/", "dst/"});
  expectSameItemize(both);
  std::vector<std::string> documented = {
      ">f.st...... changed.txt",
      ".f...p..... perm.txt",
      ">f..t...... time.txt",
      "*deleting   gone.txt",
      "*deleting   gonedir/",
      "*deleting   gonedir/inner",
      "cL+++++++++ newlink -> same.txt",
      "cd+++++++++ newdir/",
      ">f+++++++++ newdir/f",
      ".d..t...... dir/",
  };
  if (isRoot()) documented.push_back(".f....og... owner.txt");
  auto lines = itemizeLines(both.oracle.out);
  for (const auto& d : documented)
    EXPECT_TRUE(std::count(lines.begin(), lines.end(), d)) << d << "\nin:\n" << joinLines(lines);
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

// --- Dry run ----------------------------------------------------------------------

class DryRunTest : public OutputTest {};

TEST_F(DryRunTest, ChangesNothingAndReportsWhatWouldChange) {
  TreeBuilder(src())
      .file("a", "a\n", 0644, ts(1600000000, 1))
      .file("d/b", "b\n", 0644, ts(1600000000, 2))
      .finish();
  syncBothWithOracle();
  TreeBuilder(src())
      .file("a", "a changed\n", 0600, ts(1600000100, 1))
      .file("new/file", "n\n")
      .symlink("newlink", "a")
      .fifo("newfifo")
      .finish();
  prepareBoth([](const std::string& w) { TreeBuilder(w + "/dst").file("extra", "x\n").finish(); });
  Snapshot before = snapshot(inTool("dst"));
  CompareOptions strict;
  strict.identity = true;

  auto itemized = runBoth({"-a", "-n", "-i", "--delete", "../src/", "dst/"});
  EXPECT_EQ(itemized.tool.exit_code, 0) << itemized.tool.describe();
  EXPECT_TRUE(sameSnapshot(before, snapshot(inTool("dst")), strict));
  expectSameItemize(itemized);

  auto verbose = runBoth({"-a", "--dry-run", "-v", "--delete", "../src/", "dst/"});
  EXPECT_TRUE(sameSnapshot(before, snapshot(inTool("dst")), strict));
  expectSameVerbose(verbose);
  EXPECT_TRUE(contains(verbose.oracle.out, "deleting extra\n")) << verbose.oracle.out;
}

TEST_F(DryRunTest, DoesNotCreateTheDestination) {
  buildTrickyTree(src());
  auto both = runBoth({"-a", "-n", "-i", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  EXPECT_TRUE(snapshot(inTool("dst")).empty()) << "dst must not be created by -n";
  EXPECT_TRUE(snapshot(inOracle("dst")).empty());
  expectSameItemize(both);
}

// --- Verbose, quiet, stats ------------------------------------------------------------

class VerbosityTest : public OutputTest {};

TEST_F(VerbosityTest, VerboseListsTransferredNames) {
  buildTrickyTree(src());
  auto both = runBoth({"-av", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  expectSameVerbose(both);
  // Names are printed relative to the transfer root, directories with a trailing slash.
  EXPECT_TRUE(contains(both.oracle.out, "\nplain.txt\n"));
  EXPECT_TRUE(contains(both.oracle.out, "\nempty/\n"));
  EXPECT_TRUE(contains(both.oracle.out, "\nlink-rel -> plain.txt\n"));

  // Re-run after a change and a deletion.
  TreeBuilder(src()).file("plain.txt", "changed\n", 0644, ts(1700000000, 0)).finish();
  prepareBoth([](const std::string& w) { TreeBuilder(w + "/dst").file("extra", "x\n").finish(); });
  auto rerun = runBoth({"-av", "--delete", "../src/", "dst/"});
  expectSameVerbose(rerun);
  EXPECT_TRUE(contains(rerun.oracle.out, "\ndeleting extra\n"));
}

TEST_F(VerbosityTest, QuietPrintsNothingOnSuccess) {
  buildTrickyTree(src());
  auto r = tool({"-aq", "../src/", "dst/"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  // -q also silences -v (rsync prints nothing at all for -a -q -v).
  auto both = runBoth({"-a", "-q", "-v", "../src/", "dst2/"});
  EXPECT_EQ(both.oracle.out, "");
  EXPECT_EQ(both.tool.out, "");
  EXPECT_EQ(both.tool.err, "");
}

TEST_F(VerbosityTest, StatsUsesRsyncFieldNamesAndCounts) {
  buildTrickyTree(src());
  syncBothWithOracle();
  // Some work for the stats to count: a changed file, a new file, a deletion.
  TreeBuilder(src())
      .file("plain.txt", "changed!\n", 0644, ts(1700000000, 0))
      .file("brand-new", "new\n")
      .finish();
  prepareBoth([](const std::string& w) { TreeBuilder(w + "/dst").file("extra", "x\n").finish(); });
  auto both = runBoth({"-a", "--delete", "--stats", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  for (const char* field : {"Number of files:", "Number of regular files transferred:",
                            "Total file size:", "Total transferred file size:", "Literal data:",
                            "Matched data:", "Total bytes sent:", "Total bytes received:"})
    EXPECT_TRUE(contains(both.tool.out, std::string("\n") + field + " ")) << field;
  // Fields that describe the transfer (not the protocol) must carry rsync's values.
  auto lineStartingWith = [](const std::string& out, const std::string& prefix) {
    for (const auto& l : splitLines(out))
      if (l.rfind(prefix, 0) == 0) return l;
    return std::string("<missing>");
  };
  for (const char* field :
       {"Number of files:", "Number of created files:", "Number of deleted files:",
        "Number of regular files transferred:", "Total file size:", "Total transferred file size:"})
    EXPECT_EQ(lineStartingWith(both.tool.out, field), lineStartingWith(both.oracle.out, field));
}

TEST_F(VerbosityTest, ProgressEndsWithWhatLanded) {
  TreeBuilder b(src());
  for (int i = 0; i < 12; ++i) b.file("d/f" + std::to_string(i), std::string(100000, 'x'));
  b.finish();
  auto r = tool({"-a", "--progress", "../src/", "dst/"});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  std::string last = r.out.substr(r.out.rfind('\r') + 1);
  EXPECT_TRUE(contains(last, "1,200,000 ")) << printable(r.out);
  EXPECT_TRUE(contains(last, "(files 12)\n")) << printable(r.out);
  // Nothing to do the second time: nothing lands.
  auto again = tool({"-a", "--progress", "../src/", "dst/"});
  ASSERT_EQ(again.exit_code, 0) << again.describe();
  EXPECT_TRUE(contains(again.out.substr(again.out.rfind('\r') + 1), " 0 ")) << again.out;
  EXPECT_TRUE(contains(again.out, "(files 0)")) << again.out;
}

}  // namespace
}  // namespace e2e
