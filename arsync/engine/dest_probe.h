// Reading what the destination has at an entry's name, for the decision.
#pragma once

#include "arsync/engine/decide.h"
#include "fsio/file_entry.h"

namespace arsync::engine {

// Looks at `name` in dir_fd without following it (dir_fd < 0: nothing there). With
// `want_digest`, hashes a regular file whose size equals the source's: its merkle root
// (merkle::hash_for_checksum), the tree kept in `out`. Returns 0 or an
// errno value for a failure other than "does not exist".
int probe_dest(int dir_fd, const char* name, const fsio::FileEntry& src, bool want_digest,
               DestState& out);

}  // namespace arsync::engine
