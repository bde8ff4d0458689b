#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fsio/beneath.h"
#include "fsio/copy_data.h"
#include "fsio/relative_path.h"
#include "fsio/temp_file.h"

namespace arsync::fsio {
namespace {

namespace fs = std::filesystem;

TEST(RelativePath, AcceptsOnlyPathsBeneathTheRoot) {
  EXPECT_TRUE(is_safe_relative_path("a"));
  EXPECT_TRUE(is_safe_relative_path("a/b c/-rf"));
  EXPECT_TRUE(is_safe_relative_path("..."));
  EXPECT_TRUE(is_safe_relative_path(std::string(255, 'x')));
  for (const std::string& bad :
       std::vector<std::string>{"", "/a", "a/", "a//b", ".", "..", "a/..", "../a", "a/./b",
                                std::string(256, 'x'), std::string("a\0b", 3)})
    EXPECT_FALSE(is_safe_relative_path(bad)) << bad;
  std::string deep;
  while (deep.size() < kMaxPathLength) deep += "abcdefg/";
  EXPECT_FALSE(is_safe_relative_path(deep + "x"));
}

TEST(RelativePath, SplitsAndJoins) {
  EXPECT_EQ(leaf_name("a/b/c"), "c");
  EXPECT_EQ(leaf_name("c"), "c");
  EXPECT_EQ(parent_path("a/b/c"), "a/b");
  EXPECT_EQ(parent_path("c"), "");
  EXPECT_EQ(join_path("", "x"), "x");
  EXPECT_EQ(join_path("a/b", "x"), "a/b/x");
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/arsync-fsio-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fd_.reset(::open(tmpl, O_RDONLY | O_DIRECTORY));
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  UniqueFd fd_;
};

TEST_F(TempDir, OpenBeneathRefusesSymlinkComponents) {
  fs::create_directories(dir_ / "real/inner");
  fs::create_directory_symlink(dir_ / "real", dir_ / "link");
  EXPECT_TRUE(open_dir_beneath(fd_.get(), "real/inner").valid());
  EXPECT_FALSE(open_dir_beneath(fd_.get(), "link/inner").valid());
  EXPECT_FALSE(open_dir_beneath(fd_.get(), "link").valid());
  std::ofstream(dir_ / "real/f") << "x";
  fs::create_symlink(dir_ / "real/f", dir_ / "real/flink");
  EXPECT_TRUE(open_file_beneath(fd_.get(), "real/f").valid());
  EXPECT_FALSE(open_file_beneath(fd_.get(), "real/flink").valid());
  EXPECT_FALSE(open_file_beneath(fd_.get(), "link/f").valid());
}

TEST_F(TempDir, TempFileAppearsOnlyOnCommit) {
  {
    TempFile t = TempFile::create(fd_.get(), "final");
    ASSERT_TRUE(t.valid());
    ASSERT_EQ(::write(t.fd(), "abc", 3), 3);
    EXPECT_FALSE(fs::exists(dir_ / "final"));
    EXPECT_EQ(live_temp_files(), 1);
  }  // dropped without commit
  EXPECT_EQ(live_temp_files(), 0);
  EXPECT_TRUE(fs::is_empty(dir_));
  TempFile t = TempFile::create(fd_.get(), "final");
  ASSERT_EQ(::write(t.fd(), "abc", 3), 3);
  EXPECT_EQ(t.commit(), 0);
  EXPECT_EQ(fs::file_size(dir_ / "final"), 3u);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(TempDir, TempNameOfALongNameStaysWithinNameMax) {
  std::string name = temp_name_for(std::string(255, 'n'));
  EXPECT_LE(name.size(), 255u);
  EXPECT_EQ(name.front(), '.');
}

TEST_F(TempDir, SparseCopyKeepsHolesAndContent) {
  std::string src = dir_ / "src", dst = dir_ / "dst";
  UniqueFd in(::open(src.c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_EQ(::ftruncate(in.get(), 64 << 20), 0);
  ASSERT_EQ(::pwrite(in.get(), "data", 4, 10 << 20), 4);
  ASSERT_EQ(::pwrite(in.get(), "tail", 4, (64 << 20) - 4), 4);
  UniqueFd out(::open(dst.c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_EQ(copy_data(in.get(), out.get(), 64 << 20, true), 0);
  struct stat st;
  ASSERT_EQ(::fstat(out.get(), &st), 0);
  EXPECT_EQ(st.st_size, 64 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);
  char buf[4];
  ASSERT_EQ(::pread(out.get(), buf, 4, 10 << 20), 4);
  EXPECT_EQ(std::string(buf, 4), "data");
  ASSERT_EQ(::pread(out.get(), buf, 4, (64 << 20) - 4), 4);
  EXPECT_EQ(std::string(buf, 4), "tail");
}

TEST_F(TempDir, CopyReportsASourceThatShrank) {
  std::string src = dir_ / "src", dst = dir_ / "dst";
  std::ofstream(src) << "short";
  UniqueFd in(::open(src.c_str(), O_RDONLY));
  UniqueFd out(::open(dst.c_str(), O_RDWR | O_CREAT, 0600));
  EXPECT_EQ(copy_data(in.get(), out.get(), 1000, false), ENODATA);
}

}  // namespace
}  // namespace arsync::fsio
