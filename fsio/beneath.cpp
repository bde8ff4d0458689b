#include "fsio/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace arsync::fsio {
namespace {

std::atomic<bool> g_openat2_missing{false};

int openat2_beneath(int root_fd, const std::string& path, int flags) {
  if (g_openat2_missing.load(std::memory_order_relaxed)) {
    errno = ENOSYS;
    return -1;
  }
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how));
    if (fd >= 0) return static_cast<int>(fd);
    if (errno == EAGAIN || errno == EINTR) continue;  // a concurrent rename raced the lookup
    if (errno == ENOSYS || errno == EPERM) g_openat2_missing.store(true);
    return -1;
  }
}

// Fallback: one openat(O_NOFOLLOW) per component; the caller guarantees no "..".
int walk_components(int root_fd, std::string_view path, int last_flags) {
  UniqueFd current;
  int at = root_fd;
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    bool last = slash == std::string_view::npos;
    std::string part(path.substr(start, last ? std::string_view::npos : slash - start));
    int flags = last ? last_flags : (O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int fd = ::openat(at, part.c_str(), flags | O_NOFOLLOW);
    if (fd < 0) return -1;
    current.reset(fd);
    at = fd;
    if (last) return current.release();
    start = slash + 1;
  }
}

int open_beneath(int root_fd, std::string_view path, int flags) {
  std::string p(path);
  int fd = openat2_beneath(root_fd, p, flags);
  if (fd >= 0 || errno != ENOSYS) return fd;
  return walk_components(root_fd, path, flags);
}

}  // namespace

UniqueFd open_dir_beneath(int root_fd, std::string_view path) {
  int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  if (path.empty()) return UniqueFd(::openat(root_fd, ".", flags));
  return UniqueFd(open_beneath(root_fd, path, flags));
}

UniqueFd open_file_beneath(int root_fd, std::string_view path) {
  // Reading a source should not dirty its inode: O_NOATIME where we own it (or are root).
  static std::atomic<bool> noatime_refused{false};
  int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
  if (!noatime_refused.load(std::memory_order_relaxed)) {
    int fd = open_beneath(root_fd, path, flags | O_NOATIME);
    if (fd >= 0 || errno != EPERM) return UniqueFd(fd);
    if (::geteuid() != 0) noatime_refused.store(true, std::memory_order_relaxed);
  }
  return UniqueFd(open_beneath(root_fd, path, flags));
}

}  // namespace arsync::fsio
