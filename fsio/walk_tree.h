// The sender's walk: lists a source, one directory per batch, in parallel on TBB, and
// streams the batches out while the walk goes on.
#pragma once

#include <string>
#include <vector>

#include "fsio/file_entry.h"
#include "fsio/filter.h"

namespace arsync::fsio {

// Entries of one directory. A directory's own entry is always delivered (in its parent's
// batch) before the batch of its contents.
struct DirBatch {
  std::string dir;        // where the entries live, relative to the transfer root ("" = root)
  bool complete = false;  // entries are everything in `dir` that belongs to the transfer
  std::vector<FileEntry> entries;  // sorted by path
};

enum class SkipReason { directory, non_regular };

class WalkSink {
 public:
  virtual ~WalkSink() = default;
  // Called concurrently from walker threads.
  virtual void on_batch(DirBatch&& batch) = 0;
  // A path that could not be read: `what` names the failed call ("opendir", "lstat", ...).
  virtual void on_error(const std::string& path, int err, const char* what) = 0;
  virtual void on_vanished(const std::string& path) = 0;
  // Something left out on purpose (a directory without -r, a symlink without -l, ...).
  virtual void on_skipped(const std::string& path, SkipReason why) = 0;
};

struct WalkOptions {
  bool recursive = false;
  bool links = false;     // -l: symlinks are entries; otherwise they are skipped
  bool devices = false;   // -D
  bool specials = false;  // -D
  bool hard_links = false;
  const FilterRules* filters = nullptr;
};

// One source argument as the user wrote it. "src/" (or "src/.") sends the contents of src
// with src itself as the entry "."; "src" sends the entry "src" (and its contents).
struct SourceSpec {
  std::string arg;
  // When not empty, the top entry gets this name (copying one file to a new name).
  std::string rename_top;
};

// Walks one source. Returns false (after reporting through sink) if the source itself could
// not be read.
bool walk_tree(const SourceSpec& source, const WalkOptions& options, WalkSink& sink);

// The directory that paths of `source` are relative to, and the top entry's name.
struct SourceRoot {
  std::string root_dir;
  std::string top_name;  // "." for a trailing-slash source
};
SourceRoot split_source(const std::string& arg);

}  // namespace arsync::fsio
