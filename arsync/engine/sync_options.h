// What the user asked the engine to do: the rsync options that shape a transfer.
#pragma once

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
  fsio::FilterRules filters;
};

// How much to say, as rsync's -v, -q, -i and --stats do.
struct OutputOptions {
  int verbose = 0;
  bool quiet = false;
  int itemize = 0;
  bool stats = false;
};

}  // namespace arsync::engine
