// Binary encodings of the delta exchange (docs/DELTA.md): the receiver's Signature, the
// sender's Probes and the receiver's Answers while the sender walks down its merkle tree,
// then the sender's Recipe, in parts. Every decoder treats its input as hostile: each count
// and length is checked against a fixed maximum and against what remains of the input
// before anything is allocated, encodings are canonical (minimal varints, no unknown flag
// bits, no trailing bytes), and a malformed input gives nullopt and a reason, never a
// crash. Needs neither TBB nor xxhash, so the fuzz targets build it alone.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fsio/file_entry.h"

namespace arsync::merkle {

using Bytes = std::vector<uint8_t>;
using fsio::Digest128;

inline constexpr uint8_t kDeltaVersion = 1;
// Offsets, lengths and file sizes: 2^62 - 1 at most, so that offset deltas fit a varint.
inline constexpr uint64_t kMaxDeltaFileSize = (uint64_t{1} << 62) - 1;
inline constexpr size_t kMaxProbeKeys = 1 << 16;            // keys in one Probe (and one Answer)
inline constexpr uint32_t kMaxSourceFile = (1u << 24) - 1;  // ids of ChunkIndex files
inline constexpr size_t kMaxRecipeOps = 1 << 16;            // ops in one RecipePart
inline constexpr size_t kMaxRecipeLiteral = 4 << 20;        // literal bytes in one RecipePart

// Receiver -> sender, opening the exchange: the chunk parameters to cut with (the
// receiver's choice), and what its basis is.
struct Signature {
  uint8_t chunk_bits = 0;  // ChunkParams::for_bits(); within [kMinChunkBits, kMaxChunkBits]
  uint64_t basis_size = 0;
  Digest128 basis_root{};  // MerkleTree::root_hash() of the basis

  friend bool operator==(const Signature&, const Signature&) = default;
};

// Sender -> receiver: "do you have the content whose hash has these keys?" (hash_key() of
// nodes of the sender's tree, any level). 1 to kMaxProbeKeys keys.
struct Probe {
  std::vector<uint64_t> keys;

  friend bool operator==(const Probe&, const Probe&) = default;
};

// Where the receiver has a piece of content: file 0 is the basis itself, other ids name
// files of the receiver's ChunkIndex.
struct Location {
  uint32_t file = 0;
  uint64_t offset = 0;

  friend bool operator==(const Location&, const Location&) = default;
};

// Receiver -> sender: one entry per key of the probe it answers, in order.
struct Answer {
  std::vector<std::optional<Location>> found;

  friend bool operator==(const Answer&, const Answer&) = default;
};

// One step of rebuilding the file: bytes the receiver has (copy: `length` bytes of `file`
// at `offset`) or bytes carried in the recipe (literal: `length` bytes of the part's
// `literals`, starting at `offset`).
struct RecipeOp {
  enum class Kind : uint8_t { copy, literal };
  Kind kind = Kind::copy;
  uint32_t file = 0;
  uint64_t offset = 0;
  uint64_t length = 0;

  friend bool operator==(const RecipeOp&, const RecipeOp&) = default;
};

// Sender -> receiver: the new file's content as ops, in order, in parts of at most
// kMaxRecipeOps ops and kMaxRecipeLiteral literal bytes. The last part also carries the
// new file's size and whole-file XXH3-128, which the receiver checks once it has applied
// everything.
struct RecipePart {
  std::vector<RecipeOp> ops;
  Bytes literals;
  bool last = false;
  uint64_t total_size = 0;  // last part only
  Digest128 digest{};       // last part only

  friend bool operator==(const RecipePart&, const RecipePart&) = default;
};

Bytes encode_signature(const Signature& signature);
std::optional<Signature> decode_signature(std::span<const uint8_t> in, std::string& error);

Bytes encode_probe(const Probe& probe);
std::optional<Probe> decode_probe(std::span<const uint8_t> in, std::string& error);

Bytes encode_answer(const Answer& answer);
std::optional<Answer> decode_answer(std::span<const uint8_t> in, std::string& error);

// The encoders throw std::invalid_argument for what they cannot represent faithfully (an
// offset or length past kMaxDeltaFileSize, a literal op outside the part's literals, a key
// count that does not match); anything else out of range (too many keys or ops, file 0
// marked as elsewhere...) is encoded as it is and refused by the decoder.
Bytes encode_recipe_part(const RecipePart& part);
std::optional<RecipePart> decode_recipe_part(std::span<const uint8_t> in, std::string& error);

}  // namespace arsync::merkle
