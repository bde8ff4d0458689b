// --delete for one directory: what the destination has there and the source does not.
#pragma once

#include "arsync/engine/report.h"
#include "arsync/engine/sync_options.h"
#include "fsio/walk_tree.h"

namespace arsync::engine {

// `batch` must be complete (everything the source has in batch.dir). Excluded names are
// kept unless --delete-excluded; with --dry-run, deletions are only reported.
void delete_extraneous(int dir_fd, const fsio::DirBatch& batch, const SyncOptions& options,
                       Report& report);

}  // namespace arsync::engine
