#include "fsio/metadata.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace arsync::fsio {

Timestamp mtime_of(const struct stat& st) {
  return Timestamp{static_cast<int64_t>(st.st_mtim.tv_sec),
                   static_cast<uint32_t>(st.st_mtim.tv_nsec)};
}

void fill_from_stat(FileEntry& entry, const struct stat& st) {
  entry.type = file_type_from_mode(st.st_mode);
  entry.mode = st.st_mode & 07777;
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.size = entry.type == FileType::regular || entry.type == FileType::symlink
                   ? static_cast<uint64_t>(st.st_size)
                   : 0;
  entry.rdev = entry.is_device() ? static_cast<uint64_t>(st.st_rdev) : 0;
  entry.mtime = mtime_of(st);
  entry.maybe_sparse =
      entry.type == FileType::regular && static_cast<uint64_t>(st.st_blocks) * 512 < entry.size;
}

namespace {

struct timespec to_timespec(const Timestamp& t) {
  struct timespec ts {};
  ts.tv_sec = static_cast<time_t>(t.sec);
  ts.tv_nsec = static_cast<long>(t.nsec);
  return ts;
}

// Without root, -g can still move a file to one of the caller's own groups; a refusal there
// is not an error (rsync behaves the same way).
int chown_result(int rc, const MetadataPolicy& policy) {
  if (rc == 0) return 0;
  if (errno == EPERM && !policy.is_root) return 0;
  return errno;
}

uid_t wanted_uid(const FileEntry& entry, const MetadataPolicy& policy) {
  return policy.owner && policy.is_root ? entry.uid : static_cast<uid_t>(-1);
}
gid_t wanted_gid(const FileEntry& entry, const MetadataPolicy& policy) {
  return policy.group ? entry.gid : static_cast<gid_t>(-1);
}

}  // namespace

int apply_metadata_fd(int fd, const FileEntry& entry, uint32_t mode, const MetadataPolicy& policy) {
  uid_t uid = wanted_uid(entry, policy);
  gid_t gid = wanted_gid(entry, policy);
  if (uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) {
    if (int err = chown_result(::fchown(fd, uid, gid), policy)) return err;
  }
  if (::fchmod(fd, mode & 07777) != 0) return errno;
  if (policy.times) {
    struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(entry.mtime)};
    if (::futimens(fd, times) != 0) return errno;
  }
  return 0;
}

int apply_metadata_at(int dir_fd, const char* name, const FileEntry& entry, uint32_t mode,
                      const MetadataPolicy& policy) {
  uid_t uid = wanted_uid(entry, policy);
  gid_t gid = wanted_gid(entry, policy);
  if (uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) {
    if (int err = chown_result(::fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW), policy))
      return err;
  }
  if (!entry.is_symlink()) {
    if (::fchmodat(dir_fd, name, mode & 07777, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  }
  if (policy.times) {
    struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(entry.mtime)};
    if (::utimensat(dir_fd, name, times, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  }
  return 0;
}

int update_metadata_fd(int fd, const struct stat& have, const FileEntry& entry, uint32_t mode,
                       const MetadataPolicy& policy) {
  uid_t uid = wanted_uid(entry, policy);
  gid_t gid = wanted_gid(entry, policy);
  if (uid == have.st_uid) uid = static_cast<uid_t>(-1);
  if (gid == have.st_gid) gid = static_cast<gid_t>(-1);
  if (uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) {
    if (int err = chown_result(::fchown(fd, uid, gid), policy)) return err;
  }
  if ((have.st_mode & 07777) != (mode & 07777) && ::fchmod(fd, mode & 07777) != 0) return errno;
  if (policy.times && mtime_of(have) != entry.mtime) {
    struct timespec times[2] = {{0, UTIME_OMIT}, to_timespec(entry.mtime)};
    if (::futimens(fd, times) != 0) return errno;
  }
  return 0;
}

mode_t process_umask() {
  static const mode_t mask = [] {
    mode_t m = ::umask(022);
    ::umask(m);
    return m;
  }();
  return mask;
}

}  // namespace arsync::fsio
