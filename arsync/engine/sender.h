// The sending side: walks the sources, streams the file list, and serves content on request.
#pragma once

#include <vector>

#include "arsync/engine/channel.h"
#include "arsync/engine/report.h"
#include "arsync/engine/sync_options.h"
#include "fsio/walk_tree.h"

namespace arsync::engine {

// Returns when the receiver has everything it asked for. Per-file problems go to `report`.
void run_sender(const std::vector<fsio::SourceSpec>& sources, const SyncOptions& options,
                Report& report, SenderChannel& channel);

}  // namespace arsync::engine
