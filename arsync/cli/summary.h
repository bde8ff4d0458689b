// The closing lines rsync prints: the --stats block and the -v "sent/received" summary.
#pragma once

#include <cstdio>

#include "arsync/engine/report.h"

namespace arsync::cli {

void print_summary(FILE* out, const engine::Report& report, double elapsed_seconds, bool dry_run);

}  // namespace arsync::cli
