// The closing lines rsync prints: the --stats block and the -v "sent/received" summary.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "arsync/engine/report.h"

namespace arsync::cli {

// 1234567 -> "1,234,567", as rsync prints its counters.
std::string grouped(uint64_t n);

void print_summary(FILE* out, const engine::Report& report, double elapsed_seconds, bool dry_run);

}  // namespace arsync::cli
