#include "fsio/remove_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "fsio/list_names.h"
#include "fsio/relative_path.h"
#include "fsio/unique_fd.h"

namespace arsync::fsio {
int remove_tree(int dir_fd, const std::string& name, const std::string& display_path,
                const RemovedCallback& on_removed, std::string& failed_path, bool dry_run) {
  struct stat st;
  if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    failed_path = display_path;
    return errno;
  }
  if (!S_ISDIR(st.st_mode)) {
    if (!dry_run && ::unlinkat(dir_fd, name.c_str(), 0) != 0) {
      failed_path = display_path;
      return errno;
    }
    if (on_removed) on_removed(display_path, file_type_from_mode(st.st_mode));
    return 0;
  }
  UniqueFd sub(::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  std::vector<std::string> names;
  int err = sub ? list_names(sub.get(), names) : errno;
  if (err) {
    failed_path = display_path;
    return err;
  }
  for (const auto& child : names) {
    if (int child_err = remove_tree(sub.get(), child, join_path(display_path, child), on_removed,
                                    failed_path, dry_run))
      return child_err;
  }
  if (!dry_run && ::unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) {
    failed_path = display_path;
    return errno;
  }
  if (on_removed) on_removed(display_path, FileType::directory);
  return 0;
}

}  // namespace arsync::fsio
