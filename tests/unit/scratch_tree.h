// A scratch directory for a unit test, with src/ and dst/ inside, removed afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace arsync::testing {

class ScratchTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/arsync-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    src_ = base_ / "src";
    dst_ = base_ / "dst";
    std::filesystem::create_directories(src_);
    std::filesystem::create_directories(dst_);
  }
  void TearDown() override { std::filesystem::remove_all(base_); }

  static void write_file(const std::filesystem::path& path, const std::string& content) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }
  static std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  std::filesystem::path base_, src_, dst_;
};

}  // namespace arsync::testing
