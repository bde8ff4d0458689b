// The receiver's half of one file's delta transfer (docs/DELTA.md): the basis it already
// has, hashed with the chunk size it picks for that basis; answers to the sender's probes,
// within the most keys an honest sender asks for a file of the listed size; then the
// recipe, applied into the temporary file and checked against the sender's whole-file
// XXH3-128. Whatever goes wrong ends as false with a reason, and the caller asks for the
// file whole.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "fsio/unique_fd.h"
#include "merkle/chunk_params.h"
#include "merkle/delta_codec.h"
#include "merkle/delta_responder.h"
#include "merkle/recipe_applier.h"

namespace arsync::engine {

// A basis at least this large is announced before it is hashed (early_signature), so that
// the sender hashes its file while the receiver hashes the basis: for a large file that
// halves the time before the first probe. Below it, the signature waits for the hash and
// carries the basis's root, so that a file whose content did not change is recognised
// without a single probe (hashing a small file costs less than the round trip it saves).
inline constexpr uint64_t kEarlySignatureFrom = 16 << 20;

// At most this many other files (of the receiver's index) feed one file's recipe; a recipe
// that names more fails, and the file is sent whole.
inline constexpr size_t kMaxOtherSources = 64;

class DeltaTarget {
 public:
  // Opens file `file` of the index the target answers from (see ReceiverIndex::open).
  using OpenSource = std::function<fsio::UniqueFd(uint32_t file)>;

  // Hashes the basis `basis_fd` (a regular file, open for reading) with `params`, for a new
  // file of `new_size` bytes. nullptr, with errno set, when reading the basis fails or it
  // is not a regular file. With `elsewhere` (cut with `params`; it must outlive the target),
  // content found in the receiver's other files is copied from them too, opened through
  // `open_source` when a recipe first names them.
  static std::unique_ptr<DeltaTarget> open(fsio::UniqueFd basis_fd, uint64_t new_size,
                                           const merkle::ChunkParams& params,
                                           const merkle::ChunkIndex* elsewhere = nullptr,
                                           OpenSource open_source = {});

  // For a file the receiver has no version of: an empty basis, and the receiver's other
  // files (`elsewhere`, whose parameters the signature announces) to copy from.
  static std::unique_ptr<DeltaTarget> without_basis(uint64_t new_size,
                                                    const merkle::ChunkIndex& elsewhere,
                                                    OpenSource open_source);

  // The same with the basis's tree already at hand (-c computed it to compare roots, with
  // the parameters open() would pick for its size): nothing is read.
  static std::unique_ptr<DeltaTarget> from_tree(fsio::UniqueFd basis_fd,
                                                const merkle::MerkleTree& basis, uint64_t new_size);

  // The encoded signature of a basis of `basis_size` bytes, sent before it is hashed: its
  // root is unknown (all zero), so the sender finds an unchanged file by its first probe.
  static merkle::Bytes early_signature(uint64_t basis_size);

  // The encoded signature of the hashed basis, root included.
  const merkle::Bytes& signature() const { return signature_; }

  // The encoded answer to an encoded probe; nullopt, with the reason, for a probe that does
  // not decode or that takes the keys asked about past the budget.
  std::optional<merkle::Bytes> answer(std::span<const uint8_t> probe, std::string& error);

  enum class Step { more, done, failed };
  // Applies one encoded recipe part, writing to out_fd (a new, empty file; the same one for
  // every part). done: the last part was applied and the result is the sender's file.
  // failed (with the reason): the output must be discarded.
  // `in_place` (--inplace): out_fd is the basis itself (merkle::RecipeApplier).
  Step apply(std::span<const uint8_t> part, int out_fd, std::string& error, bool in_place = false);

  // Of the file built: bytes carried in the recipe, and bytes copied from the basis.
  uint64_t literal_bytes() const { return literal_bytes_; }
  uint64_t matched_bytes() const { return matched_bytes_; }

 private:
  DeltaTarget(fsio::UniqueFd basis_fd, const merkle::MerkleTree& basis, uint64_t new_size,
              const merkle::ChunkIndex* elsewhere, OpenSource open_source);
  // Opens the other files `part` copies from that are not open yet.
  bool open_sources(const merkle::RecipePart& part, std::string& error);

  fsio::UniqueFd basis_fd_;
  OpenSource open_source_;
  std::unordered_map<uint32_t, fsio::UniqueFd> sources_;  // other files, by index id
  merkle::DeltaResponder responder_;
  merkle::Bytes signature_;
  uint64_t keys_left_ = 0;
  std::unique_ptr<merkle::RecipeApplier> applier_;  // from the first recipe part on
  int out_fd_ = -1;
  uint64_t literal_bytes_ = 0;
  uint64_t matched_bytes_ = 0;
};

}  // namespace arsync::engine
