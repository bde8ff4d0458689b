// Delta transfers on real files, through the real binary: --no-whole-file updates files
// that exist at the destination from what they already hold, the result is the same tree
// rsync makes, and --stats shows the saving in rsync's "Literal data" and "Matched data".
// Locally the default is whole files, as in rsync, and -W keeps it so.
#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "harness.h"

namespace e2e {
namespace {

class DeltaTest : public E2ETest {
 protected:
  static constexpr off_t kBigSize = 8 << 20;

  // src/ has a large file, a few small ones and a new one; both destinations hold older
  // versions of the large and small files.
  void buildTreeAndOlderDestinations() {
    TreeBuilder(src()).file("small/a", std::string(3000, 'a')).file("small/b", "bbb\n").finish();
    writePatternFile(src() + "/big", kBigSize, 1);
    TreeBuilder(src()).file("new", "new file\n").finish();
    std::string old = readFile(src() + "/big");
    old.insert(3 << 20, std::string(100, 'i'));  // the new version lacks these bytes
    old.replace(6 << 20, 4096, std::string(4096, 'o'));
    prepareBoth([&](const std::string& w) {
      TreeBuilder(w + "/dst")
          .file("big", old, 0644, ts(1600000000))
          .file("small/a", std::string(2000, 'a') + std::string(1000, 'z'), 0644, ts(1600000000))
          .file("small/b", "bb\n", 0644, ts(1600000000))
          .finish();
    });
  }
};

TEST_F(DeltaTest, NoWholeFileRebuildsChangedFilesFromWhatTheDestinationHas) {
  buildTreeAndOlderDestinations();
  auto both = runBoth({"-a", "--no-whole-file", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  const long long literal = statValue(both.tool.out, "Literal data:");
  const long long matched = statValue(both.tool.out, "Matched data:");
  // The edits cost a few chunks each; everything else came from the old version.
  EXPECT_GT(matched, kBigSize - 64 * 1024) << both.tool.out;
  EXPECT_LT(literal, 64 * 1024) << both.tool.out;
  // Every byte of every transferred file is either literal or matched.
  EXPECT_EQ(literal + matched, statValue(both.tool.out, "Total transferred file size:"))
      << both.tool.out;
  // rsync's own delta saves about as much.
  EXPECT_GT(statValue(both.oracle.out, "Matched data:"), kBigSize - 64 * 1024);
}

TEST_F(DeltaTest, LocalCopiesAreWholeByDefaultAndWithW) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{}, std::vector<std::string>{"-W"},
        std::vector<std::string>{"--no-whole-file", "--whole-file"}}) {
    SCOPED_TRACE(flags.empty() ? "(default)" : flags.back());
    removeTree(path("t"));
    removeTree(path("o"));
    removeTree(src());
    ASSERT_EQ(mkdir(path("t").c_str(), 0755), 0);
    ASSERT_EQ(mkdir(path("o").c_str(), 0755), 0);
    buildTreeAndOlderDestinations();
    std::vector<std::string> args = {"-a", "--stats"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.insert(args.end(), {"../src/", "dst/"});
    auto both = runBoth(args);
    expectSameAsOracle(both, "dst");
    EXPECT_EQ(statValue(both.tool.out, "Matched data:"), 0) << both.tool.out;
    EXPECT_EQ(statValue(both.oracle.out, "Matched data:"), 0) << both.oracle.out;
    EXPECT_EQ(statValue(both.tool.out, "Literal data:"),
              statValue(both.tool.out, "Total transferred file size:"));
  }
}

// The last of -W and --no-whole-file wins, as in rsync.
TEST_F(DeltaTest, NoWholeFileAfterWholeFileWins) {
  buildTreeAndOlderDestinations();
  auto both = runBoth({"-aW", "--no-whole-file", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  EXPECT_GT(statValue(both.tool.out, "Matched data:"), kBigSize - 64 * 1024) << both.tool.out;
  EXPECT_GT(statValue(both.oracle.out, "Matched data:"), kBigSize - 64 * 1024) << both.oracle.out;
}

}  // namespace
}  // namespace e2e
