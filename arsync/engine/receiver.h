// The receiving side: decides per entry against the destination, applies what needs no data
// at once, requests the content it lacks, and lands every file atomically.
#pragma once

#include "arsync/engine/channel.h"
#include "arsync/engine/report.h"
#include "arsync/engine/sync_options.h"

namespace arsync::engine {

struct Destination {
  int root_fd = -1;           // the destination directory, already open
  bool root_created = false;  // made by this run: the root entry reports as new
};

// Returns when the whole list has been applied. Per-file problems go to `report`.
void run_receiver(const Destination& dest, const SyncOptions& options, Report& report,
                  ReceiverChannel& channel);

}  // namespace arsync::engine
