// A file being built under a temporary name in its final directory. It becomes visible at
// its final name only through commit()'s rename, so a reader never sees it half-written and
// an interrupted run leaves the previous version intact. Destroyed without commit, it
// removes itself.
#pragma once

#include <string>
#include <string_view>

#include "fsio/unique_fd.h"

namespace arsync::fsio {

class TempFile {
 public:
  // Creates ".<name>.XXXXXX" in dir_fd with `mode` (through the umask). Returns an invalid
  // TempFile and sets errno on failure.
  // Open for reading too: content that lands out of order is read back for its hash.
  static TempFile create(int dir_fd, std::string_view final_name, unsigned mode = 0600);

  // --inplace: opens (or creates) `name` in dir_fd itself for writing, without truncating
  // it and without following a symlink; anything but a regular file is refused (EISDIR,
  // EINVAL). commit() then only closes it and discard() leaves it as it is: an update in
  // place cannot be undone. Returns an invalid TempFile and sets errno on failure.
  static TempFile open_in_place(int dir_fd, std::string_view name, unsigned mode = 0600);

  TempFile() = default;
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) noexcept;
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  bool valid() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const std::string& temp_name() const { return temp_name_; }

  // Renames over the final name; returns 0 or an errno value.
  int commit();
  // Renames to `name` in `other_dir_fd` instead (--partial-dir); 0 or an errno value.
  int commit_to(int other_dir_fd, std::string_view name);
  void discard();
  bool in_place() const { return in_place_; }

 private:
  int dir_fd_ = -1;
  UniqueFd fd_;
  std::string temp_name_;
  std::string final_name_;
  bool pending_ = false;
  bool in_place_ = false;
};

// How many temporary files exist right now (a signal handler waits for them to be removed).
int live_temp_files();

// A unique temporary name for final_name in the same directory (".<name>.XXXXXX", the name
// shortened so the result stays within NAME_MAX).
std::string temp_name_for(std::string_view final_name);

}  // namespace arsync::fsio
