#include "fsio/walk_tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <utility>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <tbb/concurrent_hash_map.h>

#include "fsio/beneath.h"
#include "fsio/list_names.h"
#include "fsio/metadata.h"
#include "fsio/relative_path.h"
#include "fsio/unique_fd.h"

namespace arsync::fsio {

SourceRoot split_source(const std::string& arg) {
  std::string path = arg;
  bool contents = !path.empty() && path.back() == '/';
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path == "." || path.ends_with("/.")) contents = true;
  if (contents) return {path, "."};
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

namespace {

struct InodeKey {
  dev_t dev;
  ino_t ino;
};
struct InodeKeyHash {
  size_t hash(const InodeKey& k) const { return std::hash<uint64_t>()(k.ino * 31 + k.dev); }
  bool equal(const InodeKey& a, const InodeKey& b) const {
    return a.dev == b.dev && a.ino == b.ino;
  }
};

class Walker {
 public:
  Walker(int root_fd, const WalkOptions& options, WalkSink& sink)
      : root_fd_(root_fd), options_(options), sink_(sink) {}

  enum class Outcome { included, skipped, failed };

  // Builds the entry for `name` in dir_fd.
  Outcome make_entry(int dir_fd, const std::string& name, const std::string& path, FileEntry& out,
                     const struct stat* known = nullptr) {
    struct stat st;
    if (known) {
      st = *known;
    } else if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        sink_.on_vanished(path);
      } else {
        sink_.on_error(path, errno, "lstat");
      }
      return Outcome::failed;
    }
    out.path = path;
    fill_from_stat(out, st);
    switch (out.type) {
      case FileType::directory:
        if (!options_.recursive) {
          sink_.on_skipped(path, SkipReason::directory);
          return Outcome::skipped;
        }
        break;
      case FileType::symlink:
        if (!options_.links) {
          sink_.on_skipped(path, SkipReason::non_regular);
          return Outcome::skipped;
        }
        if (!read_link(dir_fd, name, path, st, out.link_target)) return Outcome::failed;
        break;
      case FileType::char_device:
      case FileType::block_device:
        if (!options_.devices) {
          sink_.on_skipped(path, SkipReason::non_regular);
          return Outcome::skipped;
        }
        break;
      case FileType::fifo:
      case FileType::socket:
        if (!options_.specials) {
          sink_.on_skipped(path, SkipReason::non_regular);
          return Outcome::skipped;
        }
        break;
      case FileType::regular:
        break;
    }
    if (options_.hard_links && !out.is_dir() && st.st_nlink > 1) {
      tbb::concurrent_hash_map<InodeKey, uint32_t, InodeKeyHash>::accessor slot;
      if (groups_.insert(slot, InodeKey{st.st_dev, st.st_ino})) slot->second = next_group_++;
      out.hardlink_group = slot->second;
    }
    return Outcome::included;
  }

  // Lists directories from a shared queue on `threads` plain threads. Not TBB tasks: a
  // walker blocks when the list stream is full, and a blocked TBB worker would starve the
  // receiver's copies that are needed to drain it.
  void walk_from(std::string top, unsigned threads) {
    queue_.push_back(std::move(top));
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back([this] { work(); });
    for (auto& t : pool) t.join();
  }

  void work() {
    std::unique_lock lock(queue_mutex_);
    for (;;) {
      queue_ready_.wait(lock, [&] { return !queue_.empty() || busy_ == 0; });
      if (queue_.empty()) return;  // nothing queued and nobody listing: the walk is done
      std::string dir = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      std::vector<std::string> subdirs = walk_dir(dir);
      lock.lock();
      --busy_;
      for (auto& sub : subdirs) queue_.push_back(std::move(sub));
      queue_ready_.notify_all();
    }
  }

  // Lists one directory and returns its subdirectories that belong to the transfer.
  std::vector<std::string> walk_dir(const std::string& dir_path) {
    std::vector<std::string> subdirs;
    // The top directory "." is the root itself.
    std::string rel = dir_path == "." ? std::string() : dir_path;
    UniqueFd dir_fd = open_dir_beneath(root_fd_, rel);
    if (!dir_fd) {
      sink_.on_error(dir_path, errno, "opendir");
      return subdirs;
    }
    std::vector<std::string> names;
    if (int err = list_names(dir_fd.get(), names)) {
      sink_.on_error(dir_path, err, "readdir");
      return subdirs;
    }
    std::sort(names.begin(), names.end());
    DirBatch batch;
    batch.dir = rel;
    batch.complete = true;
    batch.entries.reserve(names.size());
    for (const auto& name : names) {
      std::string path = join_path(rel, name);
      FileEntry entry;
      Outcome outcome = make_entry(dir_fd.get(), name, path, entry);
      // An entry that could not be read is missing from the list: the receiver must not take
      // its absence as a deletion.
      if (outcome == Outcome::failed) batch.complete = false;
      if (outcome != Outcome::included) continue;
      if (options_.filters && options_.filters->excluded(path, entry.is_dir())) continue;
      batch.entries.push_back(std::move(entry));
    }
    for (const auto& e : batch.entries)
      if (e.is_dir()) subdirs.push_back(e.path);
    // The batch goes out before the subdirectories are queued, so a directory's own entry
    // always precedes its contents.
    sink_.on_batch(std::move(batch));
    return subdirs;
  }

 private:
  bool read_link(int dir_fd, const std::string& name, const std::string& path,
                 const struct stat& st, std::string& target) {
    size_t want = static_cast<size_t>(st.st_size) + 1;
    for (int attempt = 0; attempt < 4; ++attempt, want *= 2) {
      target.resize(std::max<size_t>(want, 64));
      ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        if (errno == ENOENT) {
          sink_.on_vanished(path);
        } else {
          sink_.on_error(path, errno, "readlink");
        }
        return false;
      }
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        return true;
      }
    }
    sink_.on_error(path, ENAMETOOLONG, "readlink");
    return false;
  }

  int root_fd_;
  const WalkOptions& options_;
  WalkSink& sink_;
  tbb::concurrent_hash_map<InodeKey, uint32_t, InodeKeyHash> groups_;
  std::atomic<uint32_t> next_group_{0};
  std::mutex queue_mutex_;
  std::condition_variable queue_ready_;
  std::deque<std::string> queue_;
  int busy_ = 0;
};

// Listing waits on the disk more than on the CPU, so more walkers than cores pay off.
unsigned walker_threads() {
  unsigned cores = std::thread::hardware_concurrency();
  return std::clamp(cores, 4u, 16u);
}

}  // namespace

bool walk_tree(const SourceSpec& source, const WalkOptions& options, WalkSink& sink) {
  SourceRoot root = split_source(source.arg);
  UniqueFd root_fd(::open(root.root_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) {
    sink.on_error(root.top_name == "." ? source.arg : root.root_dir, errno, "change_dir");
    return false;
  }
  // The user named the top entry: "src/" follows a symlink to a directory, "src" does not.
  struct stat st;
  int flags = root.top_name == "." ? 0 : AT_SYMLINK_NOFOLLOW;
  if (::fstatat(root_fd.get(), root.top_name.c_str(), &st, flags) != 0) {
    sink.on_error(source.arg, errno, "link_stat");
    return false;
  }
  Walker walker(root_fd.get(), options, sink);
  std::string top = source.rename_top.empty() ? root.top_name : source.rename_top;
  FileEntry entry;
  if (walker.make_entry(root_fd.get(), root.top_name, top, entry, &st) != Walker::Outcome::included)
    return true;
  bool is_dir = entry.is_dir();
  DirBatch first;
  first.entries.push_back(std::move(entry));
  sink.on_batch(std::move(first));
  if (is_dir) walker.walk_from(root.top_name, walker_threads());
  return true;
}

}  // namespace arsync::fsio
