// The receiver's half of one file's delta transfer (docs/DELTA.md): the basis it already
// has, hashed with the chunk size it picks for that basis; answers to the sender's probes,
// within the most keys an honest sender asks for a file of the listed size; then the
// recipe, applied into the temporary file and checked against the sender's whole-file
// XXH3-128. Whatever goes wrong ends as false with a reason, and the caller asks for the
// file whole.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

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

class DeltaTarget {
 public:
  // Hashes the basis `basis_fd` (a regular file, open for reading) with `params`, for a new
  // file of `new_size` bytes. nullptr, with errno set, when reading the basis fails or it
  // is not a regular file.
  static std::unique_ptr<DeltaTarget> open(fsio::UniqueFd basis_fd, uint64_t new_size,
                                           const merkle::ChunkParams& params);

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
  DeltaTarget(fsio::UniqueFd basis_fd, const merkle::MerkleTree& basis, uint64_t new_size);

  fsio::UniqueFd basis_fd_;
  merkle::DeltaResponder responder_;
  merkle::Bytes signature_;
  uint64_t keys_left_ = 0;
  std::unique_ptr<merkle::RecipeApplier> applier_;  // from the first recipe part on
  int out_fd_ = -1;
  uint64_t literal_bytes_ = 0;
  uint64_t matched_bytes_ = 0;
};

}  // namespace arsync::engine
