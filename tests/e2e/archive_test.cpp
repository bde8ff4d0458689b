// Archive copies (-a), the source trailing-slash rule, single-file copies, individual
// preservation flags, hardlinks (-H) and read-only directories.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "harness.h"

namespace e2e {
namespace {

class ArchiveTest : public E2ETest {};

// Without -v/-i/--stats nothing at all is printed on success.
void expectSilentSuccess(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(r.out, "") << r.describe();
  EXPECT_EQ(r.err, "") << r.describe();
}

bool hasHardlinks(const Snapshot& s) {
  for (const auto& kv : s)
    if (!kv.second.hardlink_leader.empty()) return true;
  return false;
}

TEST_F(ArchiveTest, TrickyTreeArchiveCopyEqualsSourceInEveryField) {
  buildTrickyTree(src());
  auto both = runBoth({"-a", "../src/", "dst/"});
  expectSilentSuccess(both.tool);
  // -a is -rlptgoD: everything but hardlinks (needs -H) is preserved.
  CompareOptions opts;
  opts.hardlinks = false;
  EXPECT_TRUE(sameTree(src(), inTool("dst"), opts));
  EXPECT_FALSE(hasHardlinks(snapshot(inTool("dst")))) << "-a without -H must not link files";
  expectSameAsOracle(both, "dst");
}

TEST_F(ArchiveTest, SourceWithoutTrailingSlashCopiesTheDirectoryItself) {
  TreeBuilder(src()).file("a", "a\n").file("d/b", "b\n").symlink("l", "a").finish();
  // Existing destination dir, and one that does not exist yet (no trailing slash).
  prepareBoth([](const std::string& w) { TreeBuilder(w + "/existing").finish(); });
  auto into_existing = runBoth({"-a", "../src", "existing/"});
  auto into_new = runBoth({"-a", "../src", "fresh"});

  EXPECT_EQ(pathsIn(inTool("existing")),
            (std::set<std::string>{"src", "src/a", "src/d", "src/d/b", "src/l"}));
  EXPECT_TRUE(sameTree(src(), inTool("existing/src")));
  EXPECT_TRUE(sameTree(src(), inTool("fresh/src")));
  expectSameAsOracle(into_existing, "existing/src");
  CompareOptions opts;
  opts.root_dir_mtime = false;  // "fresh" itself is created, not copied
  expectSameAsOracle(into_new, "fresh", opts);
}

TEST_F(ArchiveTest, SingleFileToNewNameAndIntoDirectories) {
  TreeBuilder(src()).file("file.txt", "payload\n", 0640, ts(1600000000, 42)).finish();
  prepareBoth([](const std::string& w) { TreeBuilder(w + "/existing").finish(); });
  // Each destination form rsync accepts for a single file.
  std::vector<std::vector<std::string>> cases = {
      {"-a", "../src/file.txt", "renamed.txt"},         // new name in cwd
      {"-a", "../src/file.txt", "existing"},            // existing dir, no slash
      {"-a", "../src/file.txt", "existing/other.txt"},  // new name in existing dir
      {"-a", "../src/file.txt", "newdir/"},             // trailing slash: dir is created
  };
  for (const auto& args : cases) {
    auto both = runBoth(args);
    EXPECT_EQ(both.tool.exit_code, both.oracle.exit_code)
        << args.back() << ": " << both.tool.describe();
  }
  Snapshot file = snapshot(src() + "/file.txt");
  for (const char* p :
       {"renamed.txt", "existing/file.txt", "existing/other.txt", "newdir/file.txt"}) {
    EXPECT_TRUE(sameSnapshot(file, snapshot(inTool(p)))) << p;
  }
  // Whole working dirs agree with rsync (dir mtimes are "now" in both: not compared).
  CompareOptions opts;
  opts.dir_mtime = false;
  EXPECT_TRUE(sameTree(path("o"), path("t"), opts));
}

// --- Individual flags -----------------------------------------------------

struct FlagCase {
  const char* name;
  std::vector<std::string> flags;
  mode_t umask = 022;
};

void PrintTo(const FlagCase& c, std::ostream* os) {
  *os << c.name;
}

// A compact tree with one entry per attribute the flags control.
void buildMixedTree(const std::string& root) {
  TreeBuilder b(root);
  b.file("plain", "plain\n", 0644);
  b.file("exec", "#!/bin/sh\n", 0755);
  b.file("private", "secret\n", 0600);
  b.file("suid", "suid\n", 04755);
  b.file("readonly", "ro\n", 0444);
  b.file("dir/inner", "inner\n", 0664);
  b.file("dir/deeper/leaf", "leaf\n", 0640);
  b.dir("dir", 0750);
  b.dir("emptydir", 0711);
  b.symlink("link", "plain");
  b.symlink("dir/dangling", "nowhere");
  b.file("hard1", "linked\n");
  b.hardlink("hard1", "dir/hard2");
  b.fifo("fifo", 0640);
  if (isRoot()) {
    b.device("chardev", S_IFCHR, makedev(1, 7));
    b.file("owned", "owned\n", 0644);
    b.owner("owned", 12345, 23456);
    b.symlink("owned-link", "owned");
    b.owner("owned-link", 12345, 23456);
  }
  b.finish();
}

class FlagsTest : public E2ETest, public ::testing::WithParamInterface<FlagCase> {
 protected:
  bool hasFlag(char flag) const {
    for (const auto& f : GetParam().flags)
      if (f == "-a" || (f[0] == '-' && f[1] != '-' && f.find(flag) != std::string::npos))
        return true;
    return false;
  }

  // Without -t, rsync leaves the copy time: not comparable between two runs. Nor is the
  // time of a destination dir that is not a copy of a source dir.
  CompareOptions options(bool dst_is_copy_of_src_dir) const {
    CompareOptions o = hasFlag('t') ? CompareOptions{} : CompareOptions::noTimes();
    o.root_dir_mtime = dst_is_copy_of_src_dir && hasFlag('r');
    return o;
  }

  void runAndCompare(const std::vector<std::string>& sources, const std::string& dst) {
    std::vector<std::string> args = GetParam().flags;
    args.insert(args.end(), sources.begin(), sources.end());
    args.push_back(dst);
    RunOptions opts;
    opts.umask = GetParam().umask;
    auto both = runBoth(args, opts);
    expectSameAsOracle(both, dst, options(sources.size() == 1));
    // e.g. 'skipping non-regular file "link"' (without -l) and 'skipping directory .'
    // (without -r) are part of the behaviour; order is free.
    EXPECT_TRUE(sameLines(sorted(splitLines(both.oracle.out)), sorted(splitLines(both.tool.out))));
    EXPECT_EQ(both.tool.err.empty(), both.oracle.err.empty()) << both.tool.describe();
  }
};

TEST_P(FlagsTest, TreeCopyMatchesRsync) {
  buildMixedTree(src());
  runAndCompare({"../src/"}, "dst/");
}

// Without -r a directory source is skipped, so the flags are also exercised on a list of
// non-directory sources.
TEST_P(FlagsTest, FileArgumentsMatchRsync) {
  buildMixedTree(src());
  std::vector<std::string> sources = {"../src/plain", "../src/exec",   "../src/suid",
                                      "../src/link",  "../src/fifo",   "../src/readonly",
                                      "../src/hard1", "../src/private"};
  if (isRoot()) {
    sources.push_back("../src/chardev");
    sources.push_back("../src/owned");
    sources.push_back("../src/owned-link");
  }
  runAndCompare(sources, "files/");
}

const FlagCase kFlagCases[] = {
    {"r", {"-r"}},
    {"l", {"-l"}},
    {"p", {"-p"}},
    {"t", {"-t"}},
    {"g", {"-g"}},
    {"o", {"-o"}},
    {"D", {"-D"}},
    {"rl", {"-rl"}},
    {"rt", {"-rt"}},
    {"rp", {"-rp"}},
    {"rg", {"-rg"}},
    {"ro", {"-ro"}},
    {"rD", {"-rD"}},
    {"rlp", {"-rlp"}},
    {"rlt", {"-rlt"}},
    {"r_l_p_separate", {"-r", "-l", "-p"}},
    {"rlptgoD", {"-rlptgoD"}},
    {"a", {"-a"}},
    // New files without -p honour the umask; with -p they do not.
    {"r_umask077", {"-r"}, 077},
    {"rp_umask077", {"-rp"}, 077},
};

INSTANTIATE_TEST_SUITE_P(Flags, FlagsTest, ::testing::ValuesIn(kFlagCases),
                         [](const ::testing::TestParamInfo<FlagCase>& info) {
                           return std::string(info.param.name);
                         });

// --- Hardlinks ------------------------------------------------------------

class HardlinkTest : public E2ETest {};

TEST_F(HardlinkTest, PreservedWithH) {
  buildTrickyTree(src());
  auto both = runBoth({"-aH", "../src/", "dst/"});
  expectSilentSuccess(both.tool);
  EXPECT_TRUE(sameTree(src(), inTool("dst")));  // hardlink groups included
  auto dst = snapshot(inTool("dst"));
  EXPECT_EQ(dst[tricky::kHardA].hardlink_leader, tricky::kHardC);
  EXPECT_EQ(dst[tricky::kHardB].hardlink_leader, tricky::kHardC);
  expectSameAsOracle(both, "dst");
}

TEST_F(HardlinkTest, NotPreservedWithoutH) {
  TreeBuilder(src()).file("a", "x\n").hardlink("a", "b").hardlink("a", "d/c").finish();
  auto both = runBoth({"-a", "../src/", "dst/"});
  auto dst = snapshot(inTool("dst"));
  EXPECT_FALSE(hasHardlinks(dst));
  EXPECT_EQ(dst["a"].ino == dst["b"].ino, false);
  CompareOptions opts;
  opts.hardlinks = false;
  EXPECT_TRUE(sameTree(src(), inTool("dst"), opts));
  expectSameAsOracle(both, "dst");
}

TEST_F(HardlinkTest, NewLinkToExistingFileOnRerun) {
  TreeBuilder(src()).file("a", "x\n").file("d/other", "o\n").finish();
  prepareBoth([&](const std::string& w) {
    ASSERT_EQ(runCommand({e2e::oraclePath(), "-aH", src() + "/", w + "/dst/"}).exit_code, 0);
  });
  // Link an already-copied file under a new name, and link two previously separate
  // files together (the destination must end up sharing one inode).
  TreeBuilder b(src());
  b.hardlink("a", "d/a-link");
  ASSERT_EQ(unlink((src() + "/d/other").c_str()), 0);
  b.hardlink("a", "d/other");
  b.finish();
  auto both = runBoth({"-aH", "../src/", "dst/"});
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

// --- Permissions ------------------------------------------------------------

class PermissionsTest : public E2ETest {};

TEST_F(PermissionsTest, ReadOnlySourceDirCopiesAndStaysReadOnly) {
  TreeBuilder(src()).file("ro/a", "a\n").file("ro/sub/b", "b\n", 0444).dir("ro", 0555).finish();
  auto both = runBoth({"-a", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  struct stat st;
  ASSERT_EQ(lstat(inTool("dst/ro").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

// As root, a 0555 directory is writable anyway; an ordinary user must temporarily make
// it writable to add or replace files in it on a re-run, and restore 0555 afterwards.
TEST_F(PermissionsTest, ReadOnlyDirUpdatedByUnprivilegedUser) {
  E2E_REQUIRE_ROOT("switch to user nobody");
  TreeBuilder(src()).file("ro/a", "a\n").file("ro/sub/b", "b\n").dir("ro", 0555).finish();
  prepareBoth([](const std::string& w) {
    TreeBuilder(w + "/dst").finish();
    ASSERT_EQ(chown((w + "/dst").c_str(), kNobody, kNobody), 0);
  });
  RunOptions nobody;
  nobody.prefix = asNobody();
  auto first = runBoth({"-a", "../src/", "dst/"}, nobody);
  EXPECT_EQ(first.tool.exit_code, 0) << first.tool.describe();
  // Change a file and add one inside the read-only dir (as root in src).
  TreeBuilder(src()).file("ro/a", "changed\n").file("ro/new", "new\n").dir("ro", 0555).finish();
  auto second = runBoth({"-a", "../src/", "dst/"}, nobody);
  EXPECT_EQ(second.tool.exit_code, 0) << second.tool.describe();
  CompareOptions no_owner;
  no_owner.owner = false;  // nobody cannot preserve root ownership
  EXPECT_TRUE(sameTree(src(), inTool("dst"), no_owner));
  expectSameAsOracle(second, "dst");
}

}  // namespace
}  // namespace e2e
