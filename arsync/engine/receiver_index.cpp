#include "arsync/engine/receiver_index.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <limits>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "fsio/beneath.h"
#include "fsio/relative_path.h"
#include "merkle/file_hasher.h"

namespace arsync::engine {

bool ReceiverIndex::add_leaving(std::string path, uint64_t size) {
  if (size < kIndexDeltaFrom || size > merkle::kMaxDeltaFileSize) return false;
  if (!fsio::is_safe_relative_path(path)) return false;
  const unsigned bits = merkle::chunk_params_for_size(size).bits;
  std::lock_guard lock(mutex_);
  if (leaving_count_ == kMaxLeaving) return false;
  ++leaving_count_;
  ++leaving_by_bits_[bits];
  leaving_sizes_.insert(size);
  leaving_[{bits, size}].push_back(std::move(path));
  return true;
}

void ReceiverIndex::add_kept(std::string path, uint64_t size) {
  if (size < kIndexDeltaFrom || size > merkle::kMaxDeltaFileSize) return;
  std::lock_guard lock(mutex_);
  if (kept_count_ == kMaxKept) return;
  std::vector<std::string>& same = kept_[size];
  if (same.size() == kMaxKeptPerSize) return;
  same.push_back(std::move(path));
  ++kept_count_;
}

bool ReceiverIndex::may_have(uint64_t size) const {
  if (size < kIndexDeltaFrom || size > merkle::kMaxDeltaFileSize) return false;
  const unsigned bits = merkle::chunk_params_for_size(size).bits;
  std::lock_guard lock(mutex_);
  if (leaving_by_bits_[bits] > 0) return true;
  if (kept_sizes_hashed_.count(size)) return true;
  auto it = kept_.find(size);
  return it != kept_.end() && !it->second.empty();
}

const merkle::ChunkIndex* ReceiverIndex::prepare(uint64_t size) {
  const merkle::ChunkParams params = merkle::chunk_params_for_size(size);
  const unsigned bits = params.bits;
  // One thread hashes; the others wait for it, and then usually find nothing left to hash.
  std::lock_guard hashing(hashing_);
  std::vector<std::string> picked;
  {
    std::lock_guard lock(mutex_);
    allowance_ += std::min(size, std::numeric_limits<uint64_t>::max() / 4) * 2;
    auto take = [&](std::vector<std::string>& from, uint64_t each) {
      while (!from.empty() && allowance_ >= each) {
        picked.push_back(std::move(from.back()));
        from.pop_back();
        allowance_ -= each;
      }
    };
    // Leaving files of the same size first: those of a rename.
    if (auto it = leaving_.find({bits, size}); it != leaving_.end()) {
      take(it->second, size);
      if (it->second.empty()) leaving_.erase(it);
    }
    for (auto it = leaving_.lower_bound({bits, 0});
         it != leaving_.end() && it->first.first == bits;) {
      take(it->second, it->first.second);
      it = it->second.empty() ? leaving_.erase(it) : std::next(it);
    }
    // A file of the same size leaving the tree makes this a rename or move: the kept files
    // of that size (often many, in trees of files of one size) are left alone.
    if (!leaving_sizes_.count(size)) {
      if (auto it = kept_.find(size); it != kept_.end() && !it->second.empty()) {
        take(it->second, size);
        kept_sizes_hashed_.insert(size);
      }
    }
  }

  std::vector<merkle::FileHashes> hashes(picked.size());
  std::vector<char> ok(picked.size(), 0);
  // Isolated: while this thread waits for the hashing's own tasks, it must not pick up
  // another prepare() (which would wait for the lock this thread holds).
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_for(size_t{0}, picked.size(), [&](size_t i) {
      fsio::UniqueFd fd = open_path(picked[i]);
      if (!fd) return;
      hashes[i] = merkle::hash_file(fd.get(), params, merkle::kHashWindow,
                                    merkle::kDefaultSegmentSize, merkle::WholeDigest::skip);
      ok[i] = hashes[i].error == 0 && !hashes[i].tree.empty();
    });
  });

  std::lock_guard lock(mutex_);
  PerBits& per = per_bits_[bits];
  if (!per.index) per.index = std::make_unique<merkle::ChunkIndex>(params);
  for (size_t i = 0; i < picked.size(); ++i) {
    if (!ok[i]) continue;
    hashed_ += hashes[i].tree.size();
    const uint32_t file = per.index->add(hashes[i].tree);
    per.paths.resize(file);
    per.paths[file - 1] = std::move(picked[i]);
  }
  return per.paths.empty() ? nullptr : per.index.get();
}

const merkle::ChunkIndex* ReceiverIndex::find(const merkle::ChunkParams& params) const {
  if (params.bits > merkle::kMaxChunkBits) return nullptr;
  std::lock_guard lock(mutex_);
  const PerBits& per = per_bits_[params.bits];
  return per.paths.empty() ? nullptr : per.index.get();
}

fsio::UniqueFd ReceiverIndex::open(unsigned bits, uint32_t file) const {
  std::string path;
  {
    std::lock_guard lock(mutex_);
    if (bits > merkle::kMaxChunkBits || file == 0 || file > per_bits_[bits].paths.size()) {
      errno = EBADF;
      return {};
    }
    path = per_bits_[bits].paths[file - 1];
  }
  return open_path(path);
}

uint64_t ReceiverIndex::hashed_bytes() const {
  std::lock_guard lock(mutex_);
  return hashed_;
}

fsio::UniqueFd ReceiverIndex::open_path(const std::string& path) const {
  fsio::UniqueFd dir = fsio::open_dir_beneath(root_fd_, fsio::parent_path(path));
  if (!dir) return {};
  const std::string leaf(fsio::leaf_name(path));
  // O_NONBLOCK: a fifo that took the file's place must not hang the open.
  fsio::UniqueFd fd(
      ::openat(dir.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st;
  if (!fd || ::fstat(fd.get(), &st) != 0) return {};
  if (!S_ISREG(st.st_mode)) {
    errno = EINVAL;
    return {};
  }
  return fd;
}

}  // namespace arsync::engine
