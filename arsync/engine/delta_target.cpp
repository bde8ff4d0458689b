#include "arsync/engine/delta_target.h"

#include <sys/stat.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "merkle/file_hasher.h"

namespace arsync::engine {

std::unique_ptr<DeltaTarget> DeltaTarget::open(fsio::UniqueFd basis_fd, uint64_t new_size,
                                               const merkle::ChunkParams& params,
                                               const merkle::ChunkIndex* elsewhere,
                                               OpenSource open_source) {
  struct stat st;
  if (::fstat(basis_fd.get(), &st) != 0) return nullptr;
  if (!S_ISREG(st.st_mode)) {
    errno = EINVAL;  // something else took the file's place since the decision
    return nullptr;
  }
  merkle::FileHashes basis =
      merkle::hash_file(basis_fd.get(), params, merkle::kHashWindow, merkle::kDefaultSegmentSize,
                        merkle::WholeDigest::skip);
  if (basis.error) {
    errno = basis.error;
    return nullptr;
  }
  return std::unique_ptr<DeltaTarget>(new DeltaTarget(std::move(basis_fd), basis.tree, new_size,
                                                      elsewhere, std::move(open_source)));
}

std::unique_ptr<DeltaTarget> DeltaTarget::without_basis(uint64_t new_size,
                                                        const merkle::ChunkIndex& elsewhere,
                                                        OpenSource open_source) {
  const merkle::MerkleTree empty = merkle::MerkleTree::build({}, elsewhere.params());
  return std::unique_ptr<DeltaTarget>(
      new DeltaTarget({}, empty, new_size, &elsewhere, std::move(open_source)));
}

std::unique_ptr<DeltaTarget> DeltaTarget::from_tree(fsio::UniqueFd basis_fd,
                                                    const merkle::MerkleTree& basis,
                                                    uint64_t new_size) {
  return std::unique_ptr<DeltaTarget>(
      new DeltaTarget(std::move(basis_fd), basis, new_size, nullptr, {}));
}

merkle::Bytes DeltaTarget::early_signature(uint64_t basis_size) {
  merkle::Signature signature;
  signature.chunk_bits = static_cast<uint8_t>(merkle::chunk_params_for_size(basis_size).bits);
  signature.basis_size = basis_size;
  return merkle::encode_signature(signature);
}

DeltaTarget::DeltaTarget(fsio::UniqueFd basis_fd, const merkle::MerkleTree& basis,
                         uint64_t new_size, const merkle::ChunkIndex* elsewhere,
                         OpenSource open_source)
    : basis_fd_(std::move(basis_fd)),
      open_source_(std::move(open_source)),
      responder_(basis, open_source_ ? elsewhere : nullptr),
      signature_(merkle::encode_signature(responder_.signature())),
      keys_left_(merkle::max_probe_keys(new_size, basis.params())) {}

std::optional<merkle::Bytes> DeltaTarget::answer(std::span<const uint8_t> probe_bytes,
                                                 std::string& error) {
  std::optional<merkle::Probe> probe = merkle::decode_probe(probe_bytes, error);
  if (!probe) return std::nullopt;
  // A peer that probes forever is stopped here: an honest one asks about each node of its
  // tree at most once.
  if (probe->keys.size() > keys_left_) {
    error = "probe: more keys than a file of the listed size has nodes";
    return std::nullopt;
  }
  keys_left_ -= probe->keys.size();
  return merkle::encode_answer(responder_.answer(*probe));
}

DeltaTarget::Step DeltaTarget::apply(std::span<const uint8_t> part_bytes, int out_fd,
                                     std::string& error, bool in_place) {
  std::optional<merkle::RecipePart> part = merkle::decode_recipe_part(part_bytes, error);
  if (!part) return Step::failed;
  if (!applier_) {
    applier_ = std::make_unique<merkle::RecipeApplier>(out_fd, std::vector<int>{basis_fd_.get()},
                                                       in_place);
    out_fd_ = out_fd;
  } else if (out_fd != out_fd_) {
    error = "recipe: parts written to different files";
    return Step::failed;
  }
  if (!open_sources(*part, error) || !applier_->apply(*part, error)) return Step::failed;
  for (const merkle::RecipeOp& op : part->ops) {
    (op.kind == merkle::RecipeOp::Kind::literal ? literal_bytes_ : matched_bytes_) += op.length;
  }
  if (!part->last) return Step::more;
  return applier_->finish(error) ? Step::done : Step::failed;
}

bool DeltaTarget::open_sources(const merkle::RecipePart& part, std::string& error) {
  for (const merkle::RecipeOp& op : part.ops) {
    if (op.kind != merkle::RecipeOp::Kind::copy || op.file == 0 || sources_.count(op.file))
      continue;
    if (!open_source_ || sources_.size() == kMaxOtherSources) {
      error = "recipe: copies from more files than the receiver opens for one file";
      return false;
    }
    fsio::UniqueFd fd = open_source_(op.file);
    if (!fd) {
      error = "recipe: cannot open the receiver's file " + std::to_string(op.file);
      return false;
    }
    applier_->set_source(op.file, fd.get());
    sources_.emplace(op.file, std::move(fd));
  }
  return true;
}

}  // namespace arsync::engine
