// Removing an entry and, for a directory, everything beneath it, without following
// symlinks out of the tree.
#pragma once

#include <functional>
#include <string>

#include "fsio/file_entry.h"

namespace arsync::fsio {

// Called after each entry is removed, deepest first, with its display path.
using RemovedCallback = std::function<void(const std::string& path, FileType type)>;

// Removes `name` in dir_fd. `display_path` is how `name` is reported (paths beneath it
// extend it). Returns 0 or the first errno value met; `failed_path` then names what could
// not be removed.
// With `dry_run` nothing is removed, but every entry that would be is reported.
int remove_tree(int dir_fd, const std::string& name, const std::string& display_path,
                const RemovedCallback& on_removed, std::string& failed_path, bool dry_run = false);

}  // namespace arsync::fsio
