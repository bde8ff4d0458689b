// The receiver's decision for one entry: compare what the sender listed with what is on
// disk, as rsync's quick check (size + mtime, or the whole-file hash with -c) does, and say
// what to do and how -i reports it.
#pragma once

#include <sys/stat.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "arsync/engine/sync_options.h"
#include "fsio/file_entry.h"

namespace arsync::merkle {
class MerkleTree;
}  // namespace arsync::merkle

namespace arsync::engine {

// What the destination already has at an entry's path.
struct DestState {
  bool exists = false;
  struct stat st {};
  std::string link_target;   // when it is a symlink
  bool has_digest = false;   // with -c, for a regular file of the same size
  fsio::Digest128 digest{};  // its merkle root (merkle::hash_for_checksum)
  // The tree behind that root: the basis signature of a delta, if the file differs.
  std::shared_ptr<const merkle::MerkleTree> tree;
};

enum class Action : uint8_t {
  keep,       // nothing to do
  attrs,      // same content, metadata to update
  dir,        // directory exists: metadata applied when the run ends
  make_dir,   // create a directory
  transfer,   // fetch content into a new file
  make_link,  // (re)create a symlink
  make_node,  // (re)create a device, fifo or socket
};

struct Decision {
  Action action = Action::keep;
  bool replace = false;     // something of another type is in the way and must go first
  bool created = false;     // the entry is new at the destination
  bool report = false;      // worth a line with -i / -v
  uint32_t final_mode = 0;  // permission bits the entry ends with
  std::array<char, 11> code{};

  std::string_view itemize() const { return {code.data(), code.size()}; }
};

// `is_root`: only root can give files away, so -o changes nothing otherwise.
Decision decide(const fsio::FileEntry& src, const DestState& dst, const SyncOptions& options,
                bool is_root);

char itemize_type(fsio::FileType type);

}  // namespace arsync::engine
