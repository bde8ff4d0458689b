// Local mode: the sender and the receiver in one process over the in-memory channel.
#pragma once

#include <vector>

#include "arsync/engine/receiver.h"
#include "arsync/engine/report.h"
#include "arsync/engine/sync_options.h"
#include "fsio/walk_tree.h"

namespace arsync::engine {

void sync_local(const std::vector<fsio::SourceSpec>& sources, const Destination& dest,
                const SyncOptions& options, Report& report, bool pass_fds = true);

}  // namespace arsync::engine
