// Content the receiver already has elsewhere in the destination, for files it has no
// version of at their own path (docs/DELTA.md, "Content found across files"): a file
// renamed, moved or copied within the tree is rebuilt from the chunks of the file it came
// from instead of being sent again.
//
// The receiver registers candidates as it meets them, at no cost beyond the stat it does
// anyway: files that are leaving (extraneous: not in the source's list, deleted at the end
// with --delete or left in place without it) and files it keeps unchanged (the original of
// a copy). Nothing is read until a new file asks: prepare() then hashes the candidates that
// file may copy from, once each, into one merkle::ChunkIndex per chunk size, within a byte
// budget. Candidates are named by their path beneath the destination root and opened
// beneath it, never following a symlink.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fsio/unique_fd.h"
#include "merkle/chunk_index.h"
#include "merkle/chunk_params.h"
#include "merkle/delta_codec.h"

namespace arsync::engine {

// A new file smaller than this is sent whole: the exchange (signature, probe, answer,
// recipe: about 100 bytes and a round trip) would cost as much as the file.
inline constexpr uint64_t kIndexDeltaFrom = 1024;

class ReceiverIndex {
 public:
  // Files leaving the tree, and files kept, at most this many of each.
  static constexpr size_t kMaxLeaving = 1 << 16;
  static constexpr size_t kMaxKept = 1 << 16;
  static constexpr size_t kMaxKeptPerSize = 1024;
  // Bytes hashed: this much, plus twice the size of each new file that asked.
  static constexpr uint64_t kBaseAllowance = 64 << 20;

  explicit ReceiverIndex(int root_fd) : root_fd_(root_fd) {}

  // A file not in the source's list (`path` beneath the destination root). False when the
  // cap is reached or the file is too small to matter: it is then not a candidate.
  bool add_leaving(std::string path, uint64_t size);
  // A file the transfer keeps as it is, the original of a possible copy. Found only by a new
  // file of the same size.
  void add_kept(std::string path, uint64_t size);

  // Whether a new file of `size` bytes has candidates (no hashing: a cheap test).
  bool may_have(uint64_t size) const;

  // Hashes what a new file of `size` bytes may copy from, not hashed yet and within the
  // budget: leaving files with its chunk size (the same size first), and, unless leaving
  // files of its very size exist (a rename, not a copy), kept files of its size. Returns the
  // index for its chunk parameters, or null if it holds nothing. Blocking; may run on many
  // threads at once (one hashes, the others wait for it).
  const merkle::ChunkIndex* prepare(uint64_t size);

  // The index for `params` as it is (null if nothing was hashed with them).
  const merkle::ChunkIndex* find(const merkle::ChunkParams& params) const;

  // Opens file `file` of the index of chunk bits `bits`, read-only: invalid, with errno set,
  // if there is no such file or it is no longer a regular file.
  fsio::UniqueFd open(unsigned bits, uint32_t file) const;

  // Bytes hashed so far (for tests and the documentation's cost figures).
  uint64_t hashed_bytes() const;

 private:
  struct PerBits {
    std::unique_ptr<merkle::ChunkIndex> index;  // created on first use, never replaced
    std::vector<std::string> paths;             // paths[file - 1]
  };

  fsio::UniqueFd open_path(const std::string& path) const;

  int root_fd_;
  mutable std::mutex mutex_;  // everything below but the indexes' contents
  std::mutex hashing_;        // one prepare() hashes at a time
  // Pending (not yet hashed) candidates, by (chunk bits, size).
  std::map<std::pair<unsigned, uint64_t>, std::vector<std::string>> leaving_;
  std::unordered_map<uint64_t, std::vector<std::string>> kept_;
  std::unordered_set<uint64_t> kept_sizes_hashed_;  // sizes of kept files in the indexes
  std::array<size_t, merkle::kMaxChunkBits + 1> leaving_by_bits_{};  // ever registered
  std::unordered_set<uint64_t> leaving_sizes_;                       // ever registered
  size_t leaving_count_ = 0;
  size_t kept_count_ = 0;
  uint64_t allowance_ = kBaseAllowance;
  uint64_t hashed_ = 0;
  std::array<PerBits, merkle::kMaxChunkBits + 1> per_bits_;
};

}  // namespace arsync::engine
