// --delete, --delete-excluded and the include/exclude filter rules.
#include <fstream>

#include "harness.h"

namespace e2e {
namespace {

// --- Deletion ---------------------------------------------------------------

class DeleteTest : public E2ETest {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    TreeBuilder(src())
        .file("a.txt", "a\n", 0644, ts(1600000000, 1))
        .file("src.keep", "kept in src\n", 0644, ts(1600000000, 2))
        .file("dir/b.txt", "b\n", 0644, ts(1600000000, 3))
        .file("dir/sub/c.txt", "c\n", 0644, ts(1600000000, 4))
        .finish();
    // Both destinations start as a copy of src plus extraneous entries at every level.
    prepareBoth([&](const std::string& w) {
      ASSERT_EQ(runCommand({e2e::oraclePath(), "-a", src() + "/", w + "/dst/"}).exit_code, 0);
      TreeBuilder(w + "/dst")
          .file("extra.txt", "extra\n", 0644, ts(1600000000, 5))
          .file("extradir/x/y.txt", "y\n", 0644, ts(1600000000, 6))
          .dir("extradir/emptyextra")
          .symlink("extralink", "a.txt", ts(1600000000, 7))
          .file("dir/extra2.txt", "e2\n", 0644, ts(1600000000, 8))
          .file("dir/sub/protect.keep", "p\n", 0644, ts(1600000000, 9))
          .file("top.keep", "t\n", 0644, ts(1600000000, 10))
          .finish();
    });
  }
};

TEST_F(DeleteTest, DeleteRemovesExtraneousFilesAndDirs) {
  auto both = runBoth({"-a", "--delete", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
  expectSameAsOracle(both, "dst");
}

TEST_F(DeleteTest, WithoutDeleteExtraneousFilesStay) {
  auto both = runBoth({"-a", "../src/", "dst/"});
  EXPECT_TRUE(pathsIn(inTool("dst")).count("extradir/x/y.txt"));
  expectSameAsOracle(both, "dst");
}

TEST_F(DeleteTest, ExcludedDestinationFilesAreProtected) {
  auto both = runBoth({"-a", "--delete", "--exclude=*.keep", "../src/", "dst/"});
  auto paths = pathsIn(inTool("dst"));
  EXPECT_TRUE(paths.count("top.keep"));
  EXPECT_TRUE(paths.count("dir/sub/protect.keep"));
  EXPECT_TRUE(paths.count("src.keep"));
  EXPECT_FALSE(paths.count("extra.txt"));
  EXPECT_FALSE(paths.count("extradir"));
  expectSameAsOracle(both, "dst");
}

TEST_F(DeleteTest, DeleteExcludedRemovesExcludedFilesToo) {
  auto both =
      runBoth({"-a", "--delete", "--delete-excluded", "--exclude=*.keep", "../src/", "dst/"});
  auto paths = pathsIn(inTool("dst"));
  EXPECT_FALSE(paths.count("top.keep"));
  EXPECT_FALSE(paths.count("dir/sub/protect.keep"));
  EXPECT_FALSE(paths.count("src.keep"));
  EXPECT_FALSE(paths.count("extra.txt"));
  expectSameAsOracle(both, "dst");
}

TEST_F(DeleteTest, DryRunDeleteRemovesNothing) {
  Snapshot before = snapshot(inTool("dst"));
  auto both = runBoth({"-n", "-a", "-i", "--delete", "../src/", "dst/"});
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  CompareOptions strict;
  strict.identity = true;
  EXPECT_TRUE(sameSnapshot(before, snapshot(inTool("dst")), strict));
  EXPECT_TRUE(sameLines(itemizeLines(both.oracle.out), itemizeLines(both.tool.out)));
  EXPECT_TRUE(contains(both.oracle.out, "*deleting   extra.txt"));
}

// A directory in dst where src has a file, and vice versa.
TEST_F(DeleteTest, TypeConflictsWithAndWithoutDelete) {
  TreeBuilder(src()).file("was-dir", "now a file\n").file("was-file/child", "now a dir\n").finish();
  prepareBoth([](const std::string& w) {
    TreeBuilder(w + "/dst")
        .file("was-dir/inner/deep.txt", "old\n")
        .file("was-file", "old file\n")
        .finish();
  });
  // Without --delete rsync refuses to remove the non-empty dir (exit 23) but still
  // replaces the file with a directory.
  auto plain = runBoth({"-a", "../src/", "dst/"});
  expectSameAsOracle(plain, "dst");
  EXPECT_EQ(plain.oracle.exit_code, 23);
  auto with_delete = runBoth({"-a", "--delete", "../src/", "dst/"});
  expectSameAsOracle(with_delete, "dst");
  EXPECT_TRUE(sameTree(src(), inTool("dst")));
}

// --- Filters ------------------------------------------------------------------

struct FilterCase {
  const char* name;
  std::vector<std::string> args;
};

void PrintTo(const FilterCase& c, std::ostream* os) {
  *os << c.name;
}

class FilterTest : public E2ETest, public ::testing::WithParamInterface<FilterCase> {
 protected:
  void SetUp() override {
    E2ETest::SetUp();
    TreeBuilder b(src());
    for (const char* f : {"a.c",
                          "a.h",
                          "a.o",
                          "b.c",
                          "core",
                          "README",
                          "x.txt",
                          "1.log",
                          "22.log",
                          "[ab].c",
                          "keep.o",
                          "foo/a.c",
                          "foo/b.o",
                          "foo/x.txt",
                          "foo/bar/deep.c",
                          "foo/bar/deep.o",
                          "foo/bar/x.txt",
                          "foo/bar/baz/deepest.c",
                          "build/out.o",
                          "build/sub/y.c",
                          "build/x.txt",
                          "docs/index.html",
                          "docs/img/logo.png",
                          "lib/x.c",
                          "lib/build" /* a file named like the excluded dir */,
                          "lib/foo/a.c"})
      b.file(f, std::string(f) + "\n");
    b.dir("tmp");
    b.symlink("link.c", "a.c");
    b.finish();
    writeList("exclude-list",
              "# comment lines and blank lines are ignored\n"
              "; so are these\n"
              "\n"
              "+ keep.o\n"  // a '+ ' prefixed line is an include even in an exclude file
              "*.o\n"
              "/docs/\n"
              "x.txt\n");
    writeList("include-list", "*.c\n*/\n");
  }

  void writeList(const std::string& name, const std::string& content) {
    std::ofstream(path(name)) << content;
  }
};

TEST_P(FilterTest, SameFilesAsRsync) {
  std::vector<std::string> args = {"-a"};
  for (auto arg : GetParam().args) {
    // Filter files live in the test root; give both programs the same absolute path.
    auto at = arg.find("@ROOT@");
    if (at != std::string::npos) arg.replace(at, 6, root_);
    args.push_back(arg);
  }
  args.push_back("../src/");
  args.push_back("dst/");
  auto both = runBoth(args);
  EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
  auto tool_paths = pathsIn(inTool("dst"));
  auto oracle_paths = pathsIn(inOracle("dst"));
  EXPECT_TRUE(
      sameLines({oracle_paths.begin(), oracle_paths.end()}, {tool_paths.begin(), tool_paths.end()}))
      << "set of copied paths";
  expectSameAsOracle(both, "dst");
  // Guard against a vacuous case: the rule must have filtered something but not all.
  auto got = pathsIn(inOracle("dst"));
  EXPECT_FALSE(got.empty());
  EXPECT_NE(got, pathsIn(src()));
}

const FilterCase kFilterCases[] = {
    {"star", {"--exclude=*.o"}},
    {"anchored", {"--exclude=/x.txt"}},
    {"unanchored_name_matches_everywhere", {"--exclude=x.txt"}},
    {"trailing_slash_matches_dirs_only", {"--exclude=build/"}},
    {"question_mark", {"--exclude=?.log"}},
    {"char_class", {"--exclude=[ab].c"}},
    {"escaped_class", {"--exclude=\\[ab\\].c"}},
    // Unanchored with a slash: matches the path's tail at any depth (lib/foo/a.c too),
    // and '*' stays within one component (foo/bar/deep.c is kept).
    {"slash_pattern_matches_tail_at_any_depth", {"--exclude=foo/*.c"}},
    {"double_star_crosses_slash", {"--exclude=foo/**.c"}},
    {"double_star_prefix", {"--exclude=**/bar"}},
    {"dir_star", {"--exclude=foo/*"}},
    {"dir_triple_star", {"--include=foo/***", "--exclude=*"}},
    {"only_c_files", {"--include=*.c", "--include=*/", "--exclude=*"}},
    {"first_match_wins_include", {"--include=a.c", "--exclude=*.c"}},
    {"first_match_wins_exclude", {"--exclude=*.c", "--include=a.c"}},
    {"anchored_subpath", {"--exclude=/foo/bar"}},
    {"exclude_from", {"--exclude-from=@ROOT@/exclude-list"}},
    {"include_from", {"--include-from=@ROOT@/include-list", "--exclude=*"}},
    {"exclude_symlink_by_name", {"--exclude=link.*"}},
    {"exclude_empty_dir", {"--exclude=tmp"}},
};

INSTANTIATE_TEST_SUITE_P(Filters, FilterTest, ::testing::ValuesIn(kFilterCases),
                         [](const ::testing::TestParamInfo<FilterCase>& info) {
                           return std::string(info.param.name);
                         });

// A couple of outcomes spelled out, so the filter semantics are visible in the test.
class FilterSemanticsTest : public E2ETest {};

TEST_F(FilterSemanticsTest, OnlyCFilesKeepsDirectoryChain) {
  TreeBuilder(src()).file("a.c", "").file("a.o", "").file("d/e/f.c", "").file("d/g.h", "").finish();
  auto r = tool({"-a", "--include=*.c", "--include=*/", "--exclude=*", "../src/", "dst/"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(pathsIn(inTool("dst")), (std::set<std::string>{"a.c", "d", "d/e", "d/e/f.c"}));
}

TEST_F(FilterSemanticsTest, UnanchoredPatternWithSlashMatchesPathTail) {
  TreeBuilder(src()).file("foo/a.c", "").file("foo/bar/b.c", "").file("lib/foo/c.c", "").finish();
  auto r = tool({"-a", "--exclude=foo/*.c", "../src/", "dst/"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_EQ(pathsIn(inTool("dst")),
            (std::set<std::string>{"foo", "foo/bar", "foo/bar/b.c", "lib", "lib/foo"}));
}

TEST_F(FilterSemanticsTest, AnchoredVersusUnanchored) {
  TreeBuilder(src()).file("x", "").file("d/x", "").finish();
  auto anchored = tool({"-a", "--exclude=/x", "../src/", "anchored/"});
  auto anywhere = tool({"-a", "--exclude=x", "../src/", "anywhere/"});
  EXPECT_EQ(pathsIn(inTool("anchored")), (std::set<std::string>{"d", "d/x"}));
  EXPECT_EQ(pathsIn(inTool("anywhere")), (std::set<std::string>{"d"}));
}

}  // namespace
}  // namespace e2e
