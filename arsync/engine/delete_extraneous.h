// --delete for one directory: what the destination has there and the source does not.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "arsync/engine/report.h"
#include "arsync/engine/sync_options.h"
#include "fsio/walk_tree.h"

namespace arsync::engine {

// `batch` must be complete (everything the source has in batch.dir). Excluded names are
// kept unless --delete-excluded; with --dry-run, deletions are only reported.
// `hold`, if set, is asked about each entry to delete (its path and lstat): true keeps it
// for now, and the caller deletes it later with delete_held(). The receiver holds back
// what new files may copy content from (arsync/engine/receiver_index.h).
using HoldDeletion = std::function<bool(const std::string& path, const struct stat& st)>;
void delete_extraneous(int dir_fd, const fsio::DirBatch& batch, const SyncOptions& options,
                       Report& report, const HoldDeletion& hold = {});

// Deletes `name` in `dir_fd` (shown as `path`) and everything beneath it, reporting each
// deletion; for what delete_extraneous held back.
void delete_held(int dir_fd, const std::string& name, const std::string& path, Report& report);

}  // namespace arsync::engine
