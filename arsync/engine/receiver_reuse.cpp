// Content found across files (docs/DELTA.md): new files held back until the end of the list, and
// what leaves the destination kept as content to copy from until all content has landed.

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "arsync/engine/delete_extraneous.h"
#include "arsync/engine/receiver_class.h"
#include "fsio/beneath.h"
#include "fsio/list_names.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

bool Receiver::wants_index_delta(const FileEntry& e, const Decision& d) const {
  return index_ && d.action == Action::transfer && (d.created || d.replace) &&
         e.type == FileType::regular && index_->may_have(e.size);
}

bool Receiver::may_hold_new(const FileEntry& e, const Decision& d) const {
  return index_ && held_new_count_ < kMaxHeldNew && d.action == Action::transfer &&
         (d.created || d.replace) && e.type == FileType::regular && e.size >= kIndexDeltaFrom;
}

void Receiver::release_held_new() {
  // In slices, so that the open directories are those of the files in flight.
  constexpr size_t kSlice = 64;
  std::string dir_path;
  DirFdPtr dir;
  for (size_t start = 0; start < held_new_.size(); start += kSlice) {
    std::vector<PendingFile> slice;
    for (size_t i = start; i < std::min(held_new_.size(), start + kSlice); ++i) {
      PendingFile& file = held_new_[i];
      std::string parent(fsio::parent_path(file.entry.path));
      if (!dir || parent != dir_path) {
        dir = open_batch_dir(parent);
        dir_path = std::move(parent);
      }
      if (!dir) continue;  // reported by open_batch_dir
      file.dir = dir;
      file.delta = file.from_index = index_->may_have(file.entry.size);
      if (!file.delta) report_.stats().literal_data += file.entry.size;
      slice.push_back(std::move(file));
    }
    request(slice);
  }
  held_new_.clear();
}

bool Receiver::has_new_files(const DirBatch& batch, const std::vector<Decision>& decisions,
                             const std::vector<bool>& valid) const {
  for (size_t i = 0; i < batch.entries.size(); ++i) {
    const FileEntry& e = batch.entries[i];
    if (valid[i] && decisions[i].action == Action::transfer && decisions[i].created &&
        e.type == FileType::regular && e.size >= kIndexDeltaFrom)
      return true;
  }
  return false;
}

void Receiver::add_unlisted(int dir_fd, const DirBatch& batch) {
  std::unordered_set<std::string_view> listed;
  for (const auto& e : batch.entries) listed.insert(fsio::leaf_name(e.path));
  std::vector<std::string> names;
  if (fsio::list_names(dir_fd, names) != 0) return;
  for (const auto& name : names) {
    if (listed.count(name)) continue;
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      continue;
    std::string path = fsio::join_path(batch.dir, name);
    if (options_.filters.excluded(path, false)) continue;
    if (!index_->add_leaving(std::move(path), static_cast<uint64_t>(st.st_size))) return;
  }
}

bool Receiver::hold_for_index(int dir_fd, const std::string& dir, const std::string& path,
                              const struct stat& st) {
  std::string name(fsio::leaf_name(path));
  bool added = false;
  if (S_ISREG(st.st_mode)) {
    added = index_->add_leaving(path, static_cast<uint64_t>(st.st_size));
  } else if (S_ISDIR(st.st_mode)) {
    size_t budget = kMaxHeldWalk;
    added = add_leaving_tree(dir_fd, name, path, 0, budget);
  }
  if (added) held_.push_back({dir, std::move(name)});
  return added;
}

bool Receiver::add_leaving_tree(int parent_fd, const std::string& name, const std::string& path,
                                int depth, size_t& budget) {
  constexpr int kMaxDepth = 64;
  if (depth > kMaxDepth) return false;
  fsio::UniqueFd fd(
      ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  std::vector<std::string> names;
  if (!fd || fsio::list_names(fd.get(), names) != 0) return false;
  std::sort(names.begin(), names.end());
  bool added = false;
  for (const auto& child : names) {
    if (budget == 0) break;
    --budget;
    struct stat st;
    if (::fstatat(fd.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string child_path = fsio::join_path(path, child);
    if (S_ISREG(st.st_mode)) {
      added |= index_->add_leaving(std::move(child_path), static_cast<uint64_t>(st.st_size));
    } else if (S_ISDIR(st.st_mode)) {
      added |= add_leaving_tree(fd.get(), child, child_path, depth + 1, budget);
    }
  }
  return added;
}

void Receiver::delete_held_back() {
  for (const HeldDeletion& held : held_) {
    fsio::UniqueFd dir = fsio::open_dir_beneath(dest_.root_fd, held.dir);
    std::string path = fsio::join_path(held.dir, held.name);
    if (!dir) {
      report_.error(held.dir.empty() ? "." : held.dir, errno, "opendir (for delete)");
      continue;
    }
    delete_held(dir.get(), held.name, path, report_);
  }
  held_.clear();
}

}  // namespace arsync::engine::receiver_detail
