// Content already at the destination is not sent again (docs/DELTA.md, "Content found across
// files"): a directory renamed, a file moved or copied within the tree is rebuilt from the
// files the destination already has, found by hash across files. Locally this needs
// --no-whole-file, as any delta does. The result is the tree rsync makes, and --stats shows
// the saving as "Literal data" near zero.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "harness.h"

namespace e2e {
namespace {

namespace fs = std::filesystem;

class ContentReuseTest : public E2ETest {
 protected:
  static constexpr off_t kFileSize = 96 << 10;
  static constexpr int kFiles = 12;

  // dir/f0 .. dir/f11 of kFileSize random bytes each, seeds from `seed`.
  void writeDir(const std::string& dir, uint64_t seed) {
    fs::create_directories(dir);
    for (int i = 0; i < kFiles; ++i)
      writePatternFile(dir + "/f" + std::to_string(i), kFileSize, seed + i);
  }

  // Gives every directory of src/ the same old mtime: the edits of a test touch them, and the
  // trees are compared with their times.
  void settleSource() {
    const auto old = fs::file_time_type::clock::now() - std::chrono::hours(24);
    fs::last_write_time(src(), old);
    for (const auto& e : fs::recursive_directory_iterator(src())) {
      if (e.is_directory()) fs::last_write_time(e.path(), old);
    }
  }

  // Both destinations start as a copy of src/ as it is now (times included).
  void copySourceToBoth() {
    prepareBoth([&](const std::string& w) {
      ASSERT_EQ(std::system(("cp -a '" + src() + "' '" + w + "/dst'").c_str()), 0);
    });
  }
};

TEST_F(ContentReuseTest, RenamedDirectoryWithDeleteIsRebuiltFromTheOldOne) {
  writeDir(src() + "/keep", 100);
  writeDir(src() + "/old-name", 200);
  copySourceToBoth();
  fs::rename(src() + "/old-name", src() + "/new-name");
  settleSource();
  auto both = runBoth({"-a", "--no-whole-file", "--delete", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  EXPECT_FALSE(fs::exists(inTool("dst/old-name")));
  EXPECT_EQ(readFile(inTool("dst/new-name/f7")), readFile(src() + "/new-name/f7"));
  // Twelve new files of 96 KiB, all copied from the files of the old directory.
  EXPECT_EQ(statValue(both.tool.out, "Total transferred file size:"), kFiles * kFileSize)
      << both.tool.out;
  EXPECT_EQ(statValue(both.tool.out, "Literal data:"), 0) << both.tool.out;
  EXPECT_EQ(statValue(both.tool.out, "Matched data:"), kFiles * kFileSize) << both.tool.out;
  // Questions and recipes only: a few dozen bytes per file.
  EXPECT_LT(statValue(both.tool.out, "Total bytes sent:"), kFiles * 1024) << both.tool.out;
  EXPECT_GT(statValue(both.oracle.out, "Literal data:"), kFiles * kFileSize - 1) << both.oracle.out;
}

TEST_F(ContentReuseTest, MovedAndEditedFilesAreRebuiltFromWhereTheyWere) {
  writeDir(src() + "/a", 300);
  writePatternFile(src() + "/a/big", 3 << 20, 400);
  copySourceToBoth();
  // Moved to a directory that comes later, and renamed within its directory.
  fs::create_directories(src() + "/z");
  fs::rename(src() + "/a/big", src() + "/z/big");
  fs::rename(src() + "/a/f3", src() + "/a/f3-renamed");
  // Moved and edited: 100 bytes inserted in the middle.
  std::string edited = readFile(src() + "/a/f5");
  edited.insert(kFileSize / 2, std::string(100, 'x'));
  fs::remove(src() + "/a/f5");
  {
    std::ofstream out(src() + "/z/f5-edited", std::ios::binary);
    out << edited;
  }
  settleSource();
  auto both = runBoth({"-a", "--no-whole-file", "--delete", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  EXPECT_EQ(readFile(inTool("dst/z/big")), readFile(src() + "/z/big"));
  EXPECT_FALSE(fs::exists(inTool("dst/a/big")));
  // One chunk or two around the edit; everything else copied.
  const long long total = (3 << 20) + kFileSize + kFileSize + 100;
  EXPECT_EQ(statValue(both.tool.out, "Total transferred file size:"), total) << both.tool.out;
  EXPECT_LT(statValue(both.tool.out, "Literal data:"), 4096) << both.tool.out;
  EXPECT_LT(statValue(both.tool.out, "Total bytes sent:"), 16384) << both.tool.out;
}

TEST_F(ContentReuseTest, CopiedFileIsRebuiltFromTheOriginalThatStays) {
  writeDir(src() + "/a", 500);
  copySourceToBoth();
  fs::create_directories(src() + "/b");
  fs::copy_file(src() + "/a/f2", src() + "/a/f2-copy");
  fs::copy_file(src() + "/a/f9", src() + "/b/f9-copy");
  settleSource();
  auto both = runBoth({"-a", "--no-whole-file", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  EXPECT_EQ(readFile(inTool("dst/b/f9-copy")), readFile(src() + "/a/f9"));
  EXPECT_EQ(statValue(both.tool.out, "Total transferred file size:"), 2 * kFileSize)
      << both.tool.out;
  EXPECT_EQ(statValue(both.tool.out, "Literal data:"), 0) << both.tool.out;
}

// Without --delete, a file renamed in its directory stays there under its old name too: the
// new name is still rebuilt from it, as rsync --fuzzy would find it, by content.
TEST_F(ContentReuseTest, RenameWithoutDeleteCopiesFromTheOldNameLeftInPlace) {
  writeDir(src() + "/a", 600);
  copySourceToBoth();
  fs::rename(src() + "/a/f4", src() + "/a/renamed");
  settleSource();
  auto both = runBoth({"-a", "--no-whole-file", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  EXPECT_TRUE(fs::exists(inTool("dst/a/f4")));
  EXPECT_EQ(readFile(inTool("dst/a/renamed")), readFile(src() + "/a/renamed"));
  EXPECT_EQ(statValue(both.tool.out, "Literal data:"), 0) << both.tool.out;
}

// Whole-file transfers (the local default) read nothing else at the destination.
TEST_F(ContentReuseTest, WholeFileSendsARenamedDirectoryWhole) {
  writeDir(src() + "/old-name", 700);
  copySourceToBoth();
  fs::rename(src() + "/old-name", src() + "/new-name");
  settleSource();
  auto both = runBoth({"-a", "--delete", "--stats", "../src/", "dst/"});
  expectSameAsOracle(both, "dst");
  EXPECT_EQ(statValue(both.tool.out, "Literal data:"), kFiles * kFileSize) << both.tool.out;
}

}  // namespace
}  // namespace e2e
