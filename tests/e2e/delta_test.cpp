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

// -c compares merkle roots computed on both sides: a same-size same-mtime file whose bytes
// differ is transferred (itemized 'c'), an identical one with another mtime only gets its
// time, small files and large ones (whose digest follows the list) alike. With a delta, the
// receiver's tree from the comparison is the basis signature.
TEST_F(DeltaTest, ChecksumComparesContentWhateverTheMtimes) {
  const timespec t = ts(1600000000, 250000000);
  // Past 16 MiB, the sender's digest follows its entry and both sides hash at once.
  constexpr off_t kLarge = 20 << 20;
  TreeBuilder(src())
      .file("diff", "hello\n", 0644, t)
      .file("same", "same content\n", 0644, t)
      .finish();
  writePatternFile(src() + "/big", kLarge, 7);
  writePatternFile(src() + "/big-same", kLarge, 8);
  TreeBuilder(src()).mtime("big", t).mtime("big-same", t).finish();
  std::string big = readFile(src() + "/big");
  big[kLarge / 2 + 12345] ^= 0x5a;  // one byte, same size
  const std::string big_same = readFile(src() + "/big-same");
  prepareBoth([&](const std::string& w) {
    TreeBuilder(w + "/dst")
        .file("diff", "HELLO\n", 0644, t)
        .file("same", "same content\n", 0644, ts(1500000000))
        .file("big", big, 0644, t)
        .file("big-same", big_same, 0644, ts(1500000000))
        .mtime(".", t)
        .finish();
  });
  TreeBuilder(src()).mtime(".", t).finish();
  for (const char* whole : {"--whole-file", "--no-whole-file"}) {
    SCOPED_TRACE(whole);
    auto both = runBoth({"-a", "-c", "-i", "--stats", whole, "../src/", "dst/"});
    EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
    EXPECT_TRUE(sameLines(itemizeLines(both.oracle.out), itemizeLines(both.tool.out)))
        << both.tool.describe();
    EXPECT_EQ(joinLines(itemizeLines(both.tool.out)),
              ".f..t...... big-same\n.f..t...... same\n>fc........ big\n>fc........ diff\n");
    expectSameAsOracle(both, "dst");
    if (std::string(whole) == "--no-whole-file") {
      // The changed byte costs a chunk or so; the rest is taken from the old version.
      EXPECT_GT(statValue(both.tool.out, "Matched data:"), kLarge - 64 * 1024) << both.tool.out;
      EXPECT_LT(statValue(both.tool.out, "Literal data:"), 64 * 1024) << both.tool.out;
    }
    // Put the old versions back for the next round.
    prepareBoth([&](const std::string& w) {
      TreeBuilder(w + "/dst")
          .file("diff", "HELLO\n", 0644, t)
          .file("same", "same content\n", 0644, ts(1500000000))
          .file("big", big, 0644, t)
          .file("big-same", big_same, 0644, ts(1500000000))
          .mtime(".", t)
          .finish();
    });
  }
}

// --inplace writes into the destination file itself: same inode, and a hard link to it
// sees the new content, as with rsync. The delta's edits include a swap of two blocks, so
// that copying in file order from the file being overwritten would read bytes already
// replaced: those copies go as literal data instead.
TEST_F(DeltaTest, InplaceUpdatesTheFileItselfThroughEveryName) {
  constexpr size_t kBlock = 2 << 20;
  TreeBuilder(src()).file("small", "new\n").finish();
  writePatternFile(src() + "/big", 4 * kBlock, 21);
  const std::string old = readFile(src() + "/big");
  // new = A C B D, with 100 bytes inserted into A and 4 KiB deleted from D.
  std::string fresh = old.substr(0, kBlock / 2) + std::string(100, 'n') +
                      old.substr(kBlock / 2, kBlock / 2) + old.substr(2 * kBlock, kBlock) +
                      old.substr(kBlock, kBlock) + old.substr(3 * kBlock, kBlock / 2) +
                      old.substr(3 * kBlock + kBlock / 2 + 4096);
  TreeBuilder(src()).file("big", fresh, 0644, ts(1700000000)).finish();
  for (const char* whole : {"--no-whole-file", "--whole-file"}) {
    SCOPED_TRACE(whole);
    prepareBoth([&](const std::string& w) {
      removeTree(w + "/dst");
      TreeBuilder(w + "/dst")
          .file("big", old + std::string(5000, 't'), 0644, ts(1600000000))
          .file("small", "old, longer\n", 0644, ts(1600000000))
          .hardlink("big", "big-link")
          .finish();
    });
    struct stat before;
    ASSERT_EQ(lstat(inTool("dst/big").c_str(), &before), 0);
    auto both = runBoth({"-a", "--inplace", "--stats", whole, "../src/", "dst/"});
    EXPECT_EQ(both.tool.exit_code, 0) << both.tool.describe();
    expectSameAsOracle(both, "dst");
    EXPECT_TRUE(readFile(inTool("dst/big")) == fresh);
    EXPECT_TRUE(readFile(inTool("dst/big-link")) == fresh) << "the other name sees the update";
    EXPECT_EQ(readFile(inTool("dst/small")), "new\n");
    struct stat after;
    ASSERT_EQ(lstat(inTool("dst/big").c_str(), &after), 0);
    EXPECT_EQ(after.st_ino, before.st_ino) << "updated in place, not replaced";
    EXPECT_EQ(after.st_nlink, 2u);
    if (std::string(whole) == "--no-whole-file") {
      // Copies only read the file ahead of where it is being written, as rsync's matches
      // with --inplace: A's first half and C (moved forward) are copied; B (moved back) and
      // what follows the insertion are sent, about as much as rsync sends.
      const long long literal = statValue(both.tool.out, "Literal data:");
      EXPECT_GT(literal, static_cast<long long>(kBlock)) << both.tool.out;
      EXPECT_LT(literal, 2 * static_cast<long long>(kBlock) + 64 * 1024) << both.tool.out;
      EXPECT_LE(literal, statValue(both.oracle.out, "Literal data:") + 64 * 1024)
          << both.tool.out << both.oracle.out;
      EXPECT_GT(statValue(both.tool.out, "Matched data:"), static_cast<long long>(kBlock))
          << both.tool.out;
    }
  }
}

}  // namespace
}  // namespace e2e
