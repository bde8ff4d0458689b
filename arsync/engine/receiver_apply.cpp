// Applying what needs no content: attributes, directories, symlinks, devices and specials.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "arsync/engine/receiver_class.h"
#include "fsio/relative_path.h"
#include "fsio/remove_tree.h"

namespace arsync::engine::receiver_detail {

bool Receiver::clear_way(int dir_fd, const FileEntry& e, bool only_if_dir) {
  std::string leaf(fsio::leaf_name(e.path));
  struct stat st;
  if (::fstatat(dir_fd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return true;
  if (!S_ISDIR(st.st_mode)) {
    if (only_if_dir) return true;
    if (::unlinkat(dir_fd, leaf.c_str(), 0) == 0) return true;
    report_.error(e.path, errno, "unlink");
    return false;
  }
  if (::unlinkat(dir_fd, leaf.c_str(), AT_REMOVEDIR) == 0) return true;
  if ((errno == ENOTEMPTY || errno == EEXIST) && options_.del) {
    std::string failed;
    int err = fsio::remove_tree(dir_fd, leaf, e.path, nullptr, failed);
    if (err == 0) return true;
    report_.error(failed, err, "delete");
    return false;
  }
  report_.error_message(e.path,
                        "arsync: cannot delete non-empty directory: " + escape_name(e.path));
  return false;
}

void Receiver::apply(int dir_fd, const FileEntry& e, const Decision& d) {
  std::string leaf(fsio::leaf_name(e.path));
  const char* name = leaf.c_str();
  switch (d.action) {
    case Action::keep:
      return;
    case Action::attrs:
      if (int err = fsio::apply_metadata_at(dir_fd, name, e, d.final_mode, policy_))
        report_.error(e.path, err, "set attributes of");
      return;
    case Action::dir:
      // Contents are written before the directory's own mode is applied at the end, so a
      // read-only directory must be writable meanwhile.
      if (!is_root_) ensure_writable_dir(dir_fd, e.path == "." ? "." : name);
      return;
    case Action::make_dir:
      if (d.replace && !clear_way(dir_fd, e, false)) return;
      if (::mkdirat(dir_fd, name, 0700) != 0 && errno != EEXIST)
        report_.error(e.path, errno, "mkdir");
      return;
    case Action::make_link:
    case Action::make_node:
      if (d.replace && !clear_way(dir_fd, e, true)) return;
      make_at_temp_name(dir_fd, leaf, e, d);
      return;
    case Action::transfer:
      return;
  }
}

void Receiver::ensure_writable_dir(int dir_fd, const char* name) {
  struct stat st;
  if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
      (st.st_mode & S_IRWXU) != S_IRWXU) {
    ::fchmodat(dir_fd, name, (st.st_mode & 07777) | S_IRWXU, 0);
  }
}

void Receiver::make_at_temp_name(int dir_fd, const std::string& leaf, const FileEntry& e,
                                 const Decision& d) {
  std::string temp = fsio::temp_name_for(leaf);
  int rc = e.is_symlink() ? ::symlinkat(e.link_target.c_str(), dir_fd, temp.c_str())
                          : ::mknodat(dir_fd, temp.c_str(), fsio::mode_type_bits(e.type) | 0600,
                                      static_cast<dev_t>(e.rdev));
  if (rc != 0) {
    report_.error(e.path, errno, e.is_symlink() ? "symlink" : "mknod");
    return;
  }
  int err = fsio::apply_metadata_at(dir_fd, temp.c_str(), e, d.final_mode, policy_);
  if (!err && ::renameat(dir_fd, temp.c_str(), dir_fd, leaf.c_str()) != 0) err = errno;
  if (err) {
    ::unlinkat(dir_fd, temp.c_str(), 0);
    report_.error(e.path, err, e.is_symlink() ? "symlink" : "mknod");
  }
}

}  // namespace arsync::engine::receiver_detail
