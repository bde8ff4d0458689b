// What the user asked the engine to do: the rsync options that shape a transfer.
#pragma once

#include <string>
#include <string_view>

#include "fsio/filter.h"

namespace arsync::engine {

struct SyncOptions {
  bool recursive = false;   // -r
  bool links = false;       // -l
  bool perms = false;       // -p
  bool times = false;       // -t
  bool group = false;       // -g
  bool owner = false;       // -o
  bool devices = false;     // -D (--devices)
  bool specials = false;    // -D (--specials)
  bool hard_links = false;  // -H
  bool del = false;         // --delete
  bool delete_excluded = false;
  bool checksum = false;  // -c
  bool dry_run = false;   // -n
  // -W: send changed files whole. Off, a file that exists at the destination is updated by
  // a delta against it (docs/DELTA.md), where the channel can carry one.
  bool whole_file = true;
  // --partial: a file whose content stopped coming part-way keeps what arrived, under its
  // final name, so that the next run sends only the rest (by a delta against it).
  bool partial = false;
  // --partial-dir=DIR: what --partial keeps goes to DIR/<name> (DIR relative to the file's
  // directory unless absolute) instead of the final name; the next run takes it as the
  // delta basis and removes it once the file is complete. Implies `partial`.
  std::string partial_dir;
  // --inplace: write into the destination file itself, no temporary file and no rename
  // (for files too large to have twice, or to keep hard links and the inode). Delta copies
  // only read the basis where it is not yet overwritten.
  bool inplace = false;
  fsio::FilterRules filters;
};

// "" if `dir` is acceptable as --partial-dir, else why not: not empty, at most 4095 bytes,
// no NUL, no "." or ".." component (a relative DIR must stay inside the file's directory);
// absolute only where `allow_absolute` (the local side's own choice, never a peer's).
std::string check_partial_dir(std::string_view dir, bool allow_absolute);

// How much to say, as rsync's -v, -q, -i and --stats do.
struct OutputOptions {
  int verbose = 0;
  bool quiet = false;
  int itemize = 0;
  bool stats = false;
};

}  // namespace arsync::engine
