// --partial and --partial-dir: what arrived of a file that stopped coming, kept for the next run.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "arsync/engine/receiver_class.h"
#include "fsio/beneath.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

fsio::UniqueFd Receiver::open_partial_dir(int dir_fd, bool create) {
  const std::string& pd = options_.partial_dir;
  if (pd.front() == '/') {
    if (create) ::mkdir(pd.c_str(), 0700);
    return fsio::UniqueFd(::open(pd.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  for (size_t start = 0; create;) {
    const size_t end = std::min(pd.find('/', start), pd.size());
    fsio::UniqueFd parent = fsio::open_dir_beneath(
        dir_fd, start == 0 ? std::string_view() : std::string_view(pd).substr(0, start - 1));
    if (!parent) return {};
    const std::string component = pd.substr(start, end - start);
    if (::mkdirat(parent.get(), component.c_str(), 0700) != 0 && errno != EEXIST) return {};
    if (end == pd.size()) break;
    start = end + 1;
  }
  return fsio::open_dir_beneath(dir_fd, pd);
}

bool Receiver::has_partial_file(int dir_fd, const std::string& leaf) {
  if (options_.partial_dir.empty() || dir_fd < 0) return false;
  fsio::UniqueFd pdir = open_partial_dir(dir_fd, false);
  struct stat st;
  return pdir && ::fstatat(pdir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISREG(st.st_mode);
}

void Receiver::remove_partial_file(const PendingFile& file) {
  if (!file.partial_basis) return;
  fsio::UniqueFd pdir = open_partial_dir(file.dir->get(), false);
  if (!pdir) return;
  std::string leaf(fsio::leaf_name(file.entry.path));
  if (::unlinkat(pdir.get(), leaf.c_str(), 0) != 0 && errno != ENOENT)
    report_.error(file.entry.path, errno, "remove partial file of");
  if (options_.partial_dir.front() != '/')
    ::unlinkat(file.dir->get(), options_.partial_dir.c_str(), AT_REMOVEDIR);
}

void Receiver::keep_partial(fsio::TempFile& temp, const PendingFile& file) {
  if (!options_.partial || !temp.valid() || temp.in_place()) return;
  struct stat st;
  if (::fstat(temp.fd(), &st) != 0 || st.st_size == 0) return;
  const std::string& path = file.entry.path;
  if (options_.partial_dir.empty()) {
    if (int err = temp.commit()) report_.error(path, err, "rename");
    return;
  }
  fsio::UniqueFd pdir = open_partial_dir(file.dir->get(), true);
  if (!pdir) {
    report_.error(path, errno, "make partial directory for");
    return;
  }
  if (int err = temp.commit_to(pdir.get(), fsio::leaf_name(path)))
    report_.error(path, err, "rename into the partial directory");
}

}  // namespace arsync::engine::receiver_detail
