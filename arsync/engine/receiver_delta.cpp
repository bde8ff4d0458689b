// Deltas (docs/DELTA.md): the receiver hashes its basis, answers the sender's probes, and applies
// the recipe. Any failure asks for the file whole.

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <future>

#include "arsync/engine/cancel.h"
#include "arsync/engine/receiver_class.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

void Receiver::start_delta(uint64_t id) {
  DirFdPtr dir;
  std::string leaf;
  uint64_t size = 0;
  bool from_index = false;
  std::shared_ptr<const merkle::MerkleTree> tree;
  bool partial_basis = false;
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    dir = it->second.dir;
    leaf = fsio::leaf_name(it->second.entry.path);
    size = it->second.entry.size;
    from_index = it->second.from_index;
    tree = std::move(it->second.basis_tree);
    partial_basis = it->second.partial_basis;
  }
  if (from_index) {
    start_index_delta(id, size);
    return;
  }
  // --partial-dir: the basis is what an earlier run kept.
  fsio::UniqueFd partial_dir;
  if (partial_basis) partial_dir = open_partial_dir(dir->get(), false);
  // O_NONBLOCK: whatever took the file's place since the decision (a fifo) must not hang
  // the open; only a regular file is a basis.
  fsio::UniqueFd basis(::openat(partial_basis ? partial_dir.get() : dir->get(), leaf.c_str(),
                                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!basis || ::fstat(basis.get(), &st) != 0 || !S_ISREG(st.st_mode) || cancelled()) {
    ask_whole(id);
    return;
  }
  const uint64_t basis_size = static_cast<uint64_t>(st.st_size);
  const merkle::ChunkParams params = merkle::chunk_params_for_size(basis_size);
  std::promise<std::shared_ptr<DeltaTarget>> hashed;
  DeltaState state{hashed.get_future().share(), {}};
  // -c hashed this basis already, with these parameters (a function of its size): if the
  // size is still the same, its tree is the signature, root included. A basis that
  // changed meanwhile makes copies that fail the final check, as with the early signature.
  if (tree && tree->size() == basis_size && tree->params() == params) {
    std::shared_ptr<DeltaTarget> target = DeltaTarget::from_tree(std::move(basis), *tree, size);
    tree.reset();
    merkle::Bytes signature = target->signature();
    hashed.set_value(std::move(target));
    if (register_delta(id, std::move(state)))
      channel_.request(DeltaRequest{id, std::move(signature)});
    return;
  }
  tree.reset();
  if (basis_size >= kEarlySignatureFrom) {
    if (!register_delta(id, std::move(state))) return;
    channel_.request(DeltaRequest{id, DeltaTarget::early_signature(basis_size)});
    // Whatever the outcome, the promise is kept: a probe may be waiting for it.
    hashed.set_value(DeltaTarget::open(std::move(basis), size, params, elsewhere(params),
                                       open_source(params.bits)));
    return;
  }
  std::shared_ptr<DeltaTarget> target = DeltaTarget::open(
      std::move(basis), size, params, elsewhere(params), open_source(params.bits));
  if (!target) {
    ask_whole(id);
    return;
  }
  merkle::Bytes signature = target->signature();
  hashed.set_value(std::move(target));
  if (register_delta(id, std::move(state)))
    channel_.request(DeltaRequest{id, std::move(signature)});
}

const merkle::ChunkIndex* Receiver::elsewhere(const merkle::ChunkParams& params) const {
  return index_ ? index_->find(params) : nullptr;
}

DeltaTarget::OpenSource Receiver::open_source(unsigned bits) const {
  if (!index_) return {};
  return [index = index_.get(), bits](uint32_t file) { return index->open(bits, file); };
}

void Receiver::start_index_delta(uint64_t id, uint64_t size) {
  const merkle::ChunkIndex* index = cancelled() ? nullptr : index_->prepare(size);
  if (!index) {
    ask_whole(id);
    return;
  }
  std::shared_ptr<DeltaTarget> target =
      DeltaTarget::without_basis(size, *index, open_source(index->params().bits));
  merkle::Bytes signature = target->signature();
  std::promise<std::shared_ptr<DeltaTarget>> ready;
  ready.set_value(std::move(target));
  if (register_delta(id, DeltaState{ready.get_future().share(), {}}))
    channel_.request(DeltaRequest{id, std::move(signature)});
}

bool Receiver::register_delta(uint64_t id, DeltaState state) {
  std::lock_guard lock(mutex_);
  if (content_closed_ || !pending_.count(id)) return false;
  deltas_.emplace(id, std::move(state));
  return true;
}

DeltaTarget* Receiver::ready_target(uint64_t id, DeltaState& state) {
  DeltaTarget* target = state.target.get().get();
  if (!target) {
    drop_delta(id);
    channel_.request(ContentRequest{{id}});
  }
  return target;
}

void Receiver::ask_whole(uint64_t id) {
  {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    if (content_closed_ || it == pending_.end()) return;
    it->second.delta = false;
    report_.stats().literal_data += it->second.entry.size;
  }
  channel_.request(ContentRequest{{id}});
}

Receiver::DeltaState* Receiver::find_delta(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = deltas_.find(id);
  return it == deltas_.end() ? nullptr : &it->second;
}

bool Receiver::drop_delta(uint64_t id) {
  std::lock_guard lock(mutex_);
  if (deltas_.erase(id) == 0) return false;
  if (auto it = pending_.find(id); it != pending_.end() && it->second.delta) {
    it->second.delta = false;
    report_.stats().literal_data += it->second.entry.size;
  }
  return true;
}

void Receiver::take_probe(const DeltaProbe& probe) {
  DeltaState* state = find_delta(probe.id);
  if (!state) return;  // the file went whole meanwhile: a probe already on its way
  DeltaTarget* target = ready_target(probe.id, *state);
  if (!target) return;
  std::string error;
  std::optional<merkle::Bytes> answer = target->answer(probe.probe, error);
  if (!answer) {
    drop_delta(probe.id);
    channel_.request(ContentRequest{{probe.id}});
    return;
  }
  channel_.request(DeltaAnswer{probe.id, std::move(*answer)});
}

void Receiver::take_recipe(const DeltaRecipe& recipe) {
  const uint64_t id = recipe.id;
  DeltaState* state = find_delta(id);
  if (!state) return;
  DeltaTarget* target = ready_target(id, *state);
  if (!target) return;
  if (!state->temp.valid()) {
    DirFdPtr dir;
    std::string leaf;
    uint32_t mode = 0;
    {
      std::lock_guard lock(mutex_);
      const PendingFile& file = pending_.at(id);
      dir = file.dir;
      leaf = fsio::leaf_name(file.entry.path);
      mode = file.final_mode & 0777;
    }
    state->temp = create_output(dir->get(), leaf, mode);
    if (!state->temp.valid()) {
      int err = errno;
      drop_delta(id);
      if (auto file = take_pending(id)) report_.error(file->entry.path, err, output_verb());
      complete_one();
      return;
    }
  }
  std::string error;
  switch (target->apply(recipe.part, state->temp.fd(), error, state->temp.in_place())) {
    case DeltaTarget::Step::more:
      return;
    case DeltaTarget::Step::done: {
      const uint64_t literal = target->literal_bytes();
      const uint64_t matched = target->matched_bytes();
      fsio::TempFile temp = std::move(state->temp);
      {
        std::lock_guard lock(mutex_);
        deltas_.erase(id);  // `state` is gone from here on
      }
      report_.stats().literal_data += literal;
      report_.stats().matched_data += matched;
      if (std::optional<PendingFile> file = take_pending(id)) {
        file->entry.size = literal + matched;
        if (int err = end_in_place(temp, file->entry.size)) {
          report_.error(file->entry.path, err, "truncate");
        } else {
          finish_file(*file, temp);
        }
      }
      complete_one();
      return;
    }
    case DeltaTarget::Step::failed: {
      // As for a whole file that fails its hash: the old file stays (in place, the
      // update stays: it cannot be undone) and the content is asked for again, whole.
      const bool retained = state->temp.in_place();
      drop_delta(id);
      std::string path;
      {
        std::lock_guard lock(mutex_);
        auto it = pending_.find(id);
        if (it == pending_.end()) return;
        it->second.retried = true;
        path = it->second.entry.path;
      }
      report_.retrying(path, retained);
      channel_.request(ContentRequest{{id}});
      return;
    }
  }
}

}  // namespace arsync::engine::receiver_detail
