#include "arsync/engine/dest_probe.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "fsio/unique_fd.h"
#include "merkle/file_hasher.h"

namespace arsync::engine {

int probe_dest(int dir_fd, const char* name, const fsio::FileEntry& src, bool want_digest,
               DestState& out) {
  out = DestState{};
  if (dir_fd < 0) return 0;
  if (::fstatat(dir_fd, name, &out.st, AT_SYMLINK_NOFOLLOW) != 0) {
    return errno == ENOENT ? 0 : errno;
  }
  out.exists = true;
  if (S_ISLNK(out.st.st_mode)) {
    std::string target(static_cast<size_t>(out.st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(dir_fd, name, target.data(), target.size());
    if (n < 0) return errno;
    target.resize(static_cast<size_t>(n));
    out.link_target = std::move(target);
  }
  if (want_digest && src.is_regular() && S_ISREG(out.st.st_mode) &&
      static_cast<uint64_t>(out.st.st_size) == src.size) {
    fsio::UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return errno;
    merkle::FileHashes hashes = merkle::hash_for_checksum(fd.get(), src.size);
    if (hashes.error) return hashes.error;
    out.digest = hashes.digest;
    out.has_digest = true;
    out.tree = std::make_shared<const merkle::MerkleTree>(std::move(hashes.tree));
  }
  return 0;
}

}  // namespace arsync::engine
