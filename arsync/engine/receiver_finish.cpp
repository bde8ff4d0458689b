// After all content: hard-link followers linked to their leader, and directories' modes and times.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "arsync/engine/receiver_class.h"
#include "fsio/beneath.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

void Receiver::link_followers() {
  for (const auto& f : followers_) {
    fsio::UniqueFd dir = fsio::open_dir_beneath(dest_.root_fd, fsio::parent_path(f.entry.path));
    fsio::UniqueFd leader_dir = fsio::open_dir_beneath(dest_.root_fd, fsio::parent_path(f.leader));
    std::string leaf(fsio::leaf_name(f.entry.path));
    std::string leader_leaf(fsio::leaf_name(f.leader));
    struct stat have, want;
    bool leader_there = leader_dir && ::fstatat(leader_dir.get(), leader_leaf.c_str(), &want,
                                                AT_SYMLINK_NOFOLLOW) == 0;
    bool follower_there =
        dir && ::fstatat(dir.get(), leaf.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0;
    if (leader_there && follower_there && have.st_ino == want.st_ino && have.st_dev == want.st_dev)
      continue;  // already one file
    report_.item("hf+++++++++", f.entry.path, " => " + f.leader);
    if (!follower_there) {
      report_.stats().created_files++;
      report_.stats().created_regular++;
    }
    if (options_.dry_run) continue;
    if (!dir || !leader_there) {
      report_.error(f.entry.path, dir ? errno : ENOENT, "link");
      continue;
    }
    if (follower_there && S_ISDIR(have.st_mode) && !clear_way(dir.get(), f.entry, false)) continue;
    std::string temp = fsio::temp_name_for(leaf);
    int err = 0;
    if (::linkat(leader_dir.get(), leader_leaf.c_str(), dir.get(), temp.c_str(), 0) != 0) {
      err = errno;
    } else if (::renameat(dir.get(), temp.c_str(), dir.get(), leaf.c_str()) != 0) {
      err = errno;
      ::unlinkat(dir.get(), temp.c_str(), 0);
    }
    if (err) report_.error(f.entry.path, err, "link");
  }
}

void Receiver::finish_dirs() {
  std::stable_sort(dirs_.begin(), dirs_.end(), [](const DirToFinish& a, const DirToFinish& b) {
    return std::count(a.path.begin(), a.path.end(), '/') + !a.path.empty() >
           std::count(b.path.begin(), b.path.end(), '/') + !b.path.empty();
  });
  for (const auto& d : dirs_) {
    fsio::UniqueFd fd = fsio::open_dir_beneath(dest_.root_fd, d.path);
    struct stat have;
    int err = fd && ::fstat(fd.get(), &have) == 0
                  ? fsio::update_metadata_fd(fd.get(), have, d.entry, d.final_mode, policy_)
                  : errno;
    if (err) report_.error(d.path.empty() ? "." : d.path, err, "set attributes of");
  }
}

}  // namespace arsync::engine::receiver_detail
