// Push and pull over SSH: log in with libssh, start arsync-helper, and run this side of the
// engine over the exec channel.
#pragma once

#include <string>
#include <vector>

#include "arsync/cli/command_line.h"

namespace arsync::cli {

// True when any path is HOST:PATH (rsync's rule: a colon before the first slash).
bool is_remote_transfer(const CommandLine& cmd);

// Runs the whole remote transfer and returns the exit code: 255 when SSH itself fails (as
// ssh does), 12 for a protocol error, else the worse of the two sides' codes.
int sync_remote(const CommandLine& cmd);

}  // namespace arsync::cli
