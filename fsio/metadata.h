// Reading a FileEntry off disk and writing its metadata back, never through a symlink.
#pragma once

#include <sys/stat.h>

#include <string>

#include "fsio/file_entry.h"

namespace arsync::fsio {

// Fills everything but path, link_target and hardlink fields from a stat result.
void fill_from_stat(FileEntry& entry, const struct stat& st);

Timestamp mtime_of(const struct stat& st);

// Which attributes to apply; the options -p, -t, -o, -g.
struct MetadataPolicy {
  bool perms = false;
  bool times = false;
  bool owner = false;
  bool group = false;
  bool is_root = false;  // only root may give files away (-o), as in rsync
};

// Applies owner/group, then mode (chown clears set-id bits), then mtime, to an open fd.
// `mode` is the full permission set to give the file. Returns 0 or an errno value.
int apply_metadata_fd(int fd, const FileEntry& entry, uint32_t mode, const MetadataPolicy& policy);

// The same for a name in dir_fd that must not be followed (symlinks get owner and mtime
// only; Linux has no symlink modes).
int apply_metadata_at(int dir_fd, const char* name, const FileEntry& entry, uint32_t mode,
                      const MetadataPolicy& policy);

// Like apply_metadata_fd, but changes only what differs from `have` (the fd's current
// stat), so an up-to-date entry is not touched (its ctime stays).
int update_metadata_fd(int fd, const struct stat& have, const FileEntry& entry, uint32_t mode,
                       const MetadataPolicy& policy);

// The process umask, read once.
mode_t process_umask();

}  // namespace arsync::fsio
