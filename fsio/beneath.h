// Opening paths beneath a directory fd without ever following a symlink in any component,
// so that a symlink planted in a tree (by a peer or a racing local user) cannot redirect a
// read or a write outside it. Uses openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the
// kernel has it and a component-by-component O_NOFOLLOW walk where it does not.
#pragma once

#include <string_view>

#include "fsio/unique_fd.h"

namespace arsync::fsio {

// Opens the directory `path` (relative, validated by is_safe_relative_path, or "" for the
// root itself). Returns an invalid fd with errno set on failure (ELOOP/ENOTDIR when a
// component is a symlink or not a directory).
UniqueFd open_dir_beneath(int root_fd, std::string_view path);

// Opens a non-directory file beneath root read-only (O_NOFOLLOW on the last component too).
UniqueFd open_file_beneath(int root_fd, std::string_view path);

}  // namespace arsync::fsio
