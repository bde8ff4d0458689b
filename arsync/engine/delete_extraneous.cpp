#include "arsync/engine/delete_extraneous.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "fsio/list_names.h"
#include "fsio/relative_path.h"
#include "fsio/remove_tree.h"

namespace arsync::engine {

void delete_extraneous(int dir_fd, const fsio::DirBatch& batch, const SyncOptions& options,
                       Report& report, const HoldDeletion& hold) {
  if (dir_fd < 0) return;
  std::unordered_set<std::string_view> wanted;
  for (const auto& e : batch.entries) wanted.insert(fsio::leaf_name(e.path));
  std::vector<std::string> names;
  if (int err = fsio::list_names(dir_fd, names)) {
    report.error(batch.dir, err, "opendir (for delete)");
    return;
  }
  // rsync deletes in reverse name order.
  std::sort(names.rbegin(), names.rend());
  for (const auto& name : names) {
    if (wanted.count(name)) continue;
    std::string path = fsio::join_path(batch.dir, name);
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    // Excluded files are protected on the receiver unless --delete-excluded.
    if (!options.delete_excluded && options.filters.excluded(path, S_ISDIR(st.st_mode))) continue;
    if (hold && !options.dry_run && hold(path, st)) continue;
    std::string failed;
    int err = fsio::remove_tree(
        dir_fd, name, path,
        [&](const std::string& removed, fsio::FileType type) { report.deleted(removed, type); },
        failed, options.dry_run);
    if (err) report.error(failed, err, "delete");
  }
}

void delete_held(int dir_fd, const std::string& name, const std::string& path, Report& report) {
  std::string failed;
  int err = fsio::remove_tree(
      dir_fd, name, path,
      [&](const std::string& removed, fsio::FileType type) { report.deleted(removed, type); },
      failed);
  if (err) report.error(failed, err, "delete");
}

}  // namespace arsync::engine
