// rsync's path rules: what the sources are called at the destination, and where the
// destination root is (created if missing, as rsync does).
#pragma once

#include <string>
#include <vector>

#include "arsync/engine/receiver.h"
#include "fsio/unique_fd.h"
#include "fsio/walk_tree.h"

namespace arsync::cli {

struct TransferPlan {
  std::vector<fsio::SourceSpec> sources;
  fsio::UniqueFd dest_fd;  // invalid only in a dry run whose destination does not exist yet
  bool dest_created = false;
  std::string dest_display;  // for "created directory X"
};

// Thrown when the destination cannot be prepared; carries rsync's exit code.
struct PlanError {
  int exit_code;
  std::string message;
};

// `dry_run` creates nothing; `mkpath` creates missing parents of the destination.
TransferPlan plan_transfer(const std::vector<std::string>& sources, const std::string& dest,
                           bool dry_run, bool mkpath);

// One file arriving under the name `dest` (a pull whose one remote source is a file): the
// root is dest's directory, which must exist.
TransferPlan plan_renamed_file(const std::string& dest, bool dry_run);

// Whether `dest` could name a file rather than a directory: no trailing slash, not "." or
// "..", and not an existing directory.
bool may_name_a_file(const std::string& dest);
// The last component of a path ("" for "a/").
std::string leaf_of(const std::string& path);

}  // namespace arsync::cli
