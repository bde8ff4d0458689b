#include "arsync/engine/receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "arsync/engine/cancel.h"
#include "arsync/engine/chunk_assembly.h"
#include "arsync/engine/decide.h"
#include "arsync/engine/delete_extraneous.h"
#include "arsync/engine/delta_target.h"
#include "arsync/engine/dest_probe.h"
#include "arsync/engine/list_order.h"
#include "arsync/engine/receiver_index.h"
#include "arsync/engine/worker_pool.h"
#include "fsio/beneath.h"
#include "fsio/copy_data.h"
#include "fsio/list_names.h"
#include "fsio/metadata.h"
#include "fsio/relative_path.h"
#include "fsio/remove_tree.h"
#include "fsio/temp_file.h"
#include "merkle/chunk_params.h"
#include "merkle/file_digest.h"
#include "merkle/merkle_tree.h"

namespace arsync::engine {
namespace {

using fsio::DirBatch;
using fsio::FileEntry;
using fsio::FileType;
using DirFdPtr = std::shared_ptr<fsio::UniqueFd>;

// Files requested and not yet landed. Bounds memory and open descriptors however long the
// list is.
constexpr int kMaxInFlight = 1024;

struct PendingFile {
  DirFdPtr dir;
  FileEntry entry;
  uint32_t final_mode = 0;
  bool retried = false;     // content failed verification once and was asked for again
  bool delta = false;       // asked for as a delta against the file already there
  bool from_index = false;  // a delta without basis, from the receiver's other files
  // With -c, the tree of the file already there, hashed to compare roots: the delta's basis
  // signature, so that the basis is not read twice.
  std::shared_ptr<const merkle::MerkleTree> basis_tree;
  // --partial-dir: what an earlier run kept of this file is in the partial directory; it is
  // the delta's basis, and it goes once the file is complete.
  bool partial_basis = false;
};

// A deletion held back until all content has landed: new files may copy from it.
struct HeldDeletion {
  std::string dir;  // the directory it is in ("" is the root)
  std::string name;
};

struct DirToFinish {
  std::string path;  // "" is the root
  FileEntry entry;
  uint32_t final_mode = 0;
};

struct LinkMember {
  FileEntry entry;
  Decision decision;
};

struct HardlinkFollower {
  FileEntry entry;
  std::string leader;
};

std::string display_name(const FileEntry& entry) {
  if (entry.path == ".") return "./";
  return entry.is_dir() ? entry.path + "/" : entry.path;
}

bool is_root_entry(const DirBatch& batch, const FileEntry& entry) {
  return batch.dir.empty() && !batch.complete && entry.path == ".";
}

class Receiver {
 public:
  Receiver(const Destination& dest, const SyncOptions& options, Report& report,
           ReceiverChannel& channel)
      : dest_(dest), options_(options), report_(report), channel_(channel) {
    is_root_ = ::geteuid() == 0;
    policy_.perms = options.perms;
    policy_.times = options.times;
    policy_.owner = options.owner;
    policy_.group = options.group;
    policy_.is_root = is_root_;
    // Content is found across files only where deltas are done at all (docs/DELTA.md,
    // "Content found across files").
    // A destination this run creates has nothing to copy from.
    if (!options.whole_file && channel.carries_delta() && !options.dry_run && dest.root_fd >= 0 &&
        !dest.root_created)
      index_ = std::make_unique<ReceiverIndex>(dest.root_fd);
  }

  void run() {
    std::thread content([this] { content_loop(); });
    while (auto batch = channel_.next_batch()) {
      if (!cancelled()) process_batch(*batch);
    }
    if (!cancelled()) release_held_new();
    if (!cancelled()) resolve_hardlink_groups();
    {
      std::unique_lock lock(mutex_);
      idle_.wait(lock, [&] { return in_flight_ == 0; });
    }
    channel_.end_requests();
    content.join();
    copies_.wait();
    if (cancelled()) return;
    delete_held_back();
    link_followers();
    finish_dirs();
  }

 private:
  // ---- the file list ----

  void process_batch(DirBatch& batch) {
    if (!batch.dir.empty() && !fsio::is_safe_relative_path(batch.dir)) {
      report_.error_message("arsync: refusing unsafe directory name in file list: \"" +
                            escape_name(batch.dir) + "\"");
      return;
    }
    std::vector<bool> valid(batch.entries.size());
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      const FileEntry& e = batch.entries[i];
      valid[i] = is_root_entry(batch, e) ||
                 (fsio::is_safe_relative_path(e.path) && fsio::parent_path(e.path) == batch.dir);
      if (!valid[i]) {
        report_.error_message("arsync: refusing unsafe path in file list: \"" +
                              escape_name(e.path) + "\"");
        batch.complete = false;
      }
    }

    DirFdPtr dir = open_batch_dir(batch.dir);
    if (!dir) return;
    int dir_fd = dir->get();
    // A directory this run created holds nothing yet: no need to look.
    bool fresh = batch.complete && fresh_dirs_.erase(batch.dir) > 0;

    std::vector<Decision> decisions(batch.entries.size());
    std::vector<int> probe_errors(batch.entries.size(), 0);
    std::vector<std::shared_ptr<const merkle::MerkleTree>> trees(batch.entries.size());
    std::vector<char> partial(batch.entries.size(), 0);
    // -c: entries whose digest follows on the content stream, with what the destination has.
    std::vector<std::unique_ptr<DestState>> awaiting(batch.entries.size());
    for_each_entry(batch.entries.size(), !fresh, [&](size_t i) {
      if (!valid[i]) return;
      const FileEntry& e = batch.entries[i];
      DestState state;
      bool root = is_root_entry(batch, e);
      std::string leaf(fsio::leaf_name(e.path));
      probe_errors[i] =
          probe_dest(fresh ? -1 : dir_fd, root ? "." : leaf.c_str(), e, options_.checksum, state);
      if (probe_errors[i]) return;
      // The sender hashes its version while this side hashed its own: the decision waits for
      // its digest. (A file of another size or type needs no digest to be decided.)
      if (e.digest_follows && state.has_digest && !is_link_member(e)) {
        awaiting[i] = std::make_unique<DestState>(std::move(state));
        return;
      }
      decisions[i] = decide(e, state, options_, is_root_);
      if (decisions[i].action == Action::transfer) {
        trees[i] = std::move(state.tree);
        if (!fresh && !root) partial[i] = has_partial_file(dir_fd, leaf);
      }
      // The run made the root itself: report it as created, as rsync does.
      if (root && dest_.root_created) {
        decisions[i].created = decisions[i].report = true;
        decisions[i].code.fill('+');
        decisions[i].code[0] = 'c';
        decisions[i].code[1] = 'd';
      }
    });

    // Nor does an empty one (the root's batch comes before any other with entries): no
    // file waits for the end of the list, and nothing is indexed.
    if (index_ && batch.dir.empty() && batch.complete) {
      std::vector<std::string> names;
      if (fresh || (fsio::list_names(dir_fd, names) == 0 && names.empty())) index_.reset();
    }

    // Files kept as they are: what a new file of the same size may be a copy of.
    if (index_) {
      for (size_t i = 0; i < batch.entries.size(); ++i) {
        const FileEntry& e = batch.entries[i];
        if (valid[i] && !probe_errors[i] && e.type == FileType::regular &&
            (decisions[i].action == Action::keep || decisions[i].action == Action::attrs) &&
            !is_link_member(e))
          index_->add_kept(e.path, e.size);
      }
    }

    if (options_.del && batch.complete) {
      HoldDeletion hold;
      if (index_) {
        hold = [&](const std::string& path, const struct stat& st) {
          return hold_for_index(dir_fd, batch.dir, path, st);
        };
      }
      delete_extraneous(dir_fd, batch, options_, report_, hold);
    } else if (index_ && !fresh && has_new_files(batch, decisions, valid)) {
      // Without --delete, what the source no longer lists stays; in the directories that
      // get new files (where a renamed file's old version is), it is content to copy from.
      add_unlisted(dir_fd, batch);
    }

    enum : char { kNone, kIndex, kHold };
    std::vector<char> via_index(batch.entries.size(), kNone);
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      if (!valid[i]) continue;
      const FileEntry& e = batch.entries[i];
      if (probe_errors[i]) {
        report_.error(e.path, probe_errors[i], "stat");
        valid[i] = false;
        continue;
      }
      if (awaiting[i]) {
        await_digest(dir, std::move(batch.entries[i]), std::move(*awaiting[i]));
        valid[i] = false;
        continue;
      }
      if (is_link_member(e)) {
        // Decided once the whole group is known (see resolve_hardlink_groups).
        link_groups_[e.hardlink_group].push_back({e, decisions[i]});
        valid[i] = false;
        continue;
      }
      // A file kept in the partial directory is a better basis than any other file.
      if (partial[i]) {
      } else if (may_hold_new(e, decisions[i])) {
        via_index[i] = kHold;  // counted as a delta until it is known not to be one
        ++held_new_count_;
      } else if (wants_index_delta(e, decisions[i])) {
        via_index[i] = kIndex;
      }
      note_decision(e, decisions[i], wants_delta(decisions[i], partial[i]) || via_index[i]);
    }

    if (options_.dry_run) return;
    bool any_work = std::any_of(decisions.begin(), decisions.end(), [](const Decision& d) {
      return d.action != Action::keep && d.action != Action::transfer;
    });
    for_each_entry(batch.entries.size(), any_work, [&](size_t i) {
      if (!valid[i]) return;
      if (decisions[i].action != Action::transfer) apply(dir_fd, batch.entries[i], decisions[i]);
    });
    std::vector<PendingFile> wanted;
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      if (valid[i] && decisions[i].action == Action::transfer) {
        if (decisions[i].replace && !clear_way(dir_fd, batch.entries[i], false)) continue;
        const bool delta = wants_delta(decisions[i], partial[i]);
        PendingFile file{dir,
                         std::move(batch.entries[i]),
                         decisions[i].final_mode,
                         false,
                         delta || via_index[i],
                         via_index[i] != 0,
                         delta && !partial[i] ? std::move(trees[i]) : nullptr,
                         partial[i] != 0};
        if (via_index[i] == kHold) {
          file.dir = nullptr;  // reopened when released: held files could hold too many
          held_new_.push_back(std::move(file));
        } else {
          wanted.push_back(std::move(file));
        }
      }
    }
    request(wanted);
  }

  // Runs fn(i) for every entry, in parallel only when there are system calls worth spreading:
  // waking worker threads costs more than a few cheap iterations.
  template <typename Fn>
  void for_each_entry(size_t count, bool costly, const Fn& fn) {
    constexpr size_t kParallelFrom = 16;
    if (costly && count >= kParallelFrom) {
      copies_.for_each(count, fn);
    } else {
      for (size_t i = 0; i < count; ++i) fn(i);
    }
  }

  DirFdPtr open_batch_dir(const std::string& path) {
    if (dest_.root_fd < 0 && options_.dry_run) return std::make_shared<fsio::UniqueFd>();
    fsio::UniqueFd fd = fsio::open_dir_beneath(dest_.root_fd, path);
    if (!fd) {
      // In a dry run the directory was never created; everything in it is new.
      if (options_.dry_run && (errno == ENOENT || errno == ELOOP || errno == ENOTDIR))
        return std::make_shared<fsio::UniqueFd>();
      report_.error(path, errno, "opendir");
      return nullptr;
    }
    return std::make_shared<fsio::UniqueFd>(std::move(fd));
  }

  bool is_link_member(const FileEntry& e) const {
    return options_.hard_links && e.hardlink_group != FileEntry::kNoLink && !e.is_dir();
  }

  // With -H, as rsync does: the first member of an inode group (in rsync's list order) whose
  // content is already up to date is the one the others link to; when none is, the last
  // member receives the data. Followers are linked after all content has landed.
  void resolve_hardlink_groups() {
    for (auto& [group, members] : link_groups_) {
      std::sort(members.begin(), members.end(), [](const LinkMember& a, const LinkMember& b) {
        return rsync_list_order(a.entry.path, b.entry.path);
      });
      auto up_to_date = [](const LinkMember& m) {
        return m.decision.action == Action::keep || m.decision.action == Action::attrs;
      };
      auto leader = std::find_if(members.begin(), members.end(), up_to_date);
      if (leader == members.end()) leader = std::prev(members.end());
      for (auto it = members.begin(); it != members.end(); ++it) {
        if (it != leader) followers_.push_back({std::move(it->entry), leader->entry.path});
      }
      note_decision(leader->entry, leader->decision, wants_delta(leader->decision));
      if (options_.dry_run) continue;
      DirFdPtr dir = open_batch_dir(std::string(fsio::parent_path(leader->entry.path)));
      if (!dir) continue;
      if (leader->decision.action != Action::transfer) {
        apply(dir->get(), leader->entry, leader->decision);
        continue;
      }
      if (leader->decision.replace && !clear_way(dir->get(), leader->entry, false)) continue;
      std::vector<PendingFile> wanted;
      wanted.push_back({dir, std::move(leader->entry), leader->decision.final_mode, false,
                        wants_delta(leader->decision), false, nullptr, false});
      request(wanted);
    }
    link_groups_.clear();
  }

  // A file that is already there, as a regular file, is updated by a delta against it
  // unless the user asked for whole files (or the channel cannot carry deltas).
  // With --partial-dir, a file kept there by an earlier run is the basis instead, whether
  // or not the file itself exists.
  bool wants_delta(const Decision& d, bool partial_basis = false) const {
    return !options_.whole_file && channel_.carries_delta() && d.action == Action::transfer &&
           ((!d.created && !d.replace) || partial_basis);
  }

  // A file new at its path (or replacing something else) whose content may be in other
  // files of the destination: a delta with no basis, answered from the index.
  bool wants_index_delta(const FileEntry& e, const Decision& d) const {
    return index_ && d.action == Action::transfer && (d.created || d.replace) &&
           e.type == FileType::regular && index_->may_have(e.size);
  }

  // New files wait for the end of the file list (up to kMaxHeldNew of them) when the
  // destination existed before the run: the sender's walk lists directories in no fixed
  // order, so the file a new one was moved or copied from may be listed after it.
  static constexpr size_t kMaxHeldNew = 4096;
  bool may_hold_new(const FileEntry& e, const Decision& d) const {
    return index_ && held_new_count_ < kMaxHeldNew && d.action == Action::transfer &&
           (d.created || d.replace) && e.type == FileType::regular && e.size >= kIndexDeltaFrom;
  }

  // At the end of the list: the new files held back, as deltas from the index where it
  // has candidates for them, whole otherwise.
  void release_held_new() {
    // In slices, so that the open directories are those of the files in flight.
    constexpr size_t kSlice = 64;
    std::string dir_path;
    DirFdPtr dir;
    for (size_t start = 0; start < held_new_.size(); start += kSlice) {
      std::vector<PendingFile> slice;
      for (size_t i = start; i < std::min(held_new_.size(), start + kSlice); ++i) {
        PendingFile& file = held_new_[i];
        std::string parent(fsio::parent_path(file.entry.path));
        if (!dir || parent != dir_path) {
          dir = open_batch_dir(parent);
          dir_path = std::move(parent);
        }
        if (!dir) continue;  // reported by open_batch_dir
        file.dir = dir;
        file.delta = file.from_index = index_->may_have(file.entry.size);
        if (!file.delta) report_.stats().literal_data += file.entry.size;
        slice.push_back(std::move(file));
      }
      request(slice);
    }
    held_new_.clear();
  }

  bool has_new_files(const DirBatch& batch, const std::vector<Decision>& decisions,
                     const std::vector<bool>& valid) const {
    for (size_t i = 0; i < batch.entries.size(); ++i) {
      const FileEntry& e = batch.entries[i];
      if (valid[i] && decisions[i].action == Action::transfer && decisions[i].created &&
          e.type == FileType::regular && e.size >= kIndexDeltaFrom)
        return true;
    }
    return false;
  }

  // Regular files in the batch's directory that the source does not list (and that are
  // not excluded): candidates for the index, left in place.
  void add_unlisted(int dir_fd, const DirBatch& batch) {
    std::unordered_set<std::string_view> listed;
    for (const auto& e : batch.entries) listed.insert(fsio::leaf_name(e.path));
    std::vector<std::string> names;
    if (fsio::list_names(dir_fd, names) != 0) return;
    for (const auto& name : names) {
      if (listed.count(name)) continue;
      struct stat st;
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        continue;
      std::string path = fsio::join_path(batch.dir, name);
      if (options_.filters.excluded(path, false)) continue;
      if (!index_->add_leaving(std::move(path), static_cast<uint64_t>(st.st_size))) return;
    }
  }

  // --delete: an extraneous file, or a directory of files, becomes content for the index,
  // and is deleted once all content has landed (delete_held_back) instead of now.
  bool hold_for_index(int dir_fd, const std::string& dir, const std::string& path,
                      const struct stat& st) {
    std::string name(fsio::leaf_name(path));
    bool added = false;
    if (S_ISREG(st.st_mode)) {
      added = index_->add_leaving(path, static_cast<uint64_t>(st.st_size));
    } else if (S_ISDIR(st.st_mode)) {
      size_t budget = kMaxHeldWalk;
      added = add_leaving_tree(dir_fd, name, path, 0, budget);
    }
    if (added) held_.push_back({dir, std::move(name)});
    return added;
  }

  // The regular files beneath directory `name` of `parent_fd`, without following symlinks;
  // at most `budget` entries looked at. True if any was added.
  static constexpr size_t kMaxHeldWalk = 1 << 16;
  bool add_leaving_tree(int parent_fd, const std::string& name, const std::string& path, int depth,
                        size_t& budget) {
    constexpr int kMaxDepth = 64;
    if (depth > kMaxDepth) return false;
    fsio::UniqueFd fd(
        ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    std::vector<std::string> names;
    if (!fd || fsio::list_names(fd.get(), names) != 0) return false;
    std::sort(names.begin(), names.end());
    bool added = false;
    for (const auto& child : names) {
      if (budget == 0) break;
      --budget;
      struct stat st;
      if (::fstatat(fd.get(), child.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::string child_path = fsio::join_path(path, child);
      if (S_ISREG(st.st_mode)) {
        added |= index_->add_leaving(std::move(child_path), static_cast<uint64_t>(st.st_size));
      } else if (S_ISDIR(st.st_mode)) {
        added |= add_leaving_tree(fd.get(), child, child_path, depth + 1, budget);
      }
    }
    return added;
  }

  // The deletions held back by hold_for_index, now that no new file copies from them.
  void delete_held_back() {
    for (const HeldDeletion& held : held_) {
      fsio::UniqueFd dir = fsio::open_dir_beneath(dest_.root_fd, held.dir);
      std::string path = fsio::join_path(held.dir, held.name);
      if (!dir) {
        report_.error(held.dir.empty() ? "." : held.dir, errno, "opendir (for delete)");
        continue;
      }
      delete_held(dir.get(), held.name, path, report_);
    }
    held_.clear();
  }

  // ---- -c: decisions that wait for the sender's digest ----

  struct AwaitingDigest {
    DirFdPtr dir;
    FileEntry entry;
    DestState state;
  };

  // Counted in flight from here until decided (and, if it is then transferred, landed).
  void await_digest(DirFdPtr dir, FileEntry entry, DestState state) {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return in_flight_ < kMaxInFlight; });
    ++in_flight_;
    const uint64_t id = entry.id;
    auto early = early_digests_.find(id);
    if (!content_closed_ && early == early_digests_.end() && !awaiting_.count(id)) {
      awaiting_.emplace(id, AwaitingDigest{dir, std::move(entry), std::move(state)});
      return;
    }
    std::optional<fsio::Digest128> digest;
    if (early != early_digests_.end()) {
      digest = early->second;
      early_digests_.erase(early);
    }
    lock.unlock();
    // Already here, or never coming (the content stream ended; an id listed twice): decide
    // now, without it if need be (then the file is transferred).
    decide_with_digest(AwaitingDigest{dir, std::move(entry), std::move(state)}, digest);
  }

  void take_digest(const ContentDigest& message) {
    std::unique_lock lock(mutex_);
    auto it = awaiting_.find(message.id);
    if (it == awaiting_.end()) {
      // Its batch is not decided yet. A sender sends one digest per entry that said so; a
      // peer that sends more only fills this up to its bound.
      if (early_digests_.size() < kMaxEarlyDigests)
        early_digests_.emplace(message.id, message.digest);
      return;
    }
    AwaitingDigest waiting = std::move(it->second);
    awaiting_.erase(it);
    lock.unlock();
    decide_with_digest(std::move(waiting), message.digest);
  }

  std::optional<AwaitingDigest> take_awaiting(uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = awaiting_.find(id);
    if (it == awaiting_.end()) return std::nullopt;
    AwaitingDigest waiting = std::move(it->second);
    awaiting_.erase(it);
    return waiting;
  }

  void decide_with_digest(AwaitingDigest waiting, std::optional<fsio::Digest128> digest) {
    FileEntry& e = waiting.entry;
    e.has_digest = digest.has_value();
    if (digest) e.digest = *digest;
    const Decision d = decide(e, waiting.state, options_, is_root_);
    const int dir_fd = waiting.dir->get();
    const bool partial = d.action == Action::transfer &&
                         has_partial_file(dir_fd, std::string(fsio::leaf_name(e.path)));
    note_decision(e, d, wants_delta(d, partial));
    if (options_.dry_run || d.action != Action::transfer) {
      if (!options_.dry_run) apply(dir_fd, e, d);
      complete_one();
      return;
    }
    const bool delta = wants_delta(d, partial);
    PendingFile file{waiting.dir,
                     std::move(e),
                     d.final_mode,
                     false,
                     delta,
                     false,
                     delta && !partial ? std::move(waiting.state.tree) : nullptr,
                     partial};
    const uint64_t id = file.entry.id;
    {
      std::unique_lock lock(mutex_);
      if (content_closed_ || pending_.count(id)) {
        lock.unlock();
        report_not_received(file);
        complete_one();
        return;
      }
      pending_.emplace(id, std::move(file));
    }
    if (delta) {
      copies_.run([this, id] { start_delta(id); });
    } else {
      channel_.request(ContentRequest{{id}});
    }
  }

  // ---- --partial-dir ----

  // The partial directory of the files in dir_fd (options_.partial_dir, beneath dir_fd
  // unless absolute, never through a symlink); created first if `create`. Invalid, with
  // errno set, if it is not there.
  fsio::UniqueFd open_partial_dir(int dir_fd, bool create) {
    const std::string& pd = options_.partial_dir;
    if (pd.front() == '/') {
      if (create) ::mkdir(pd.c_str(), 0700);
      return fsio::UniqueFd(::open(pd.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    for (size_t start = 0; create;) {
      const size_t end = std::min(pd.find('/', start), pd.size());
      fsio::UniqueFd parent = fsio::open_dir_beneath(
          dir_fd, start == 0 ? std::string_view() : std::string_view(pd).substr(0, start - 1));
      if (!parent) return {};
      const std::string component = pd.substr(start, end - start);
      if (::mkdirat(parent.get(), component.c_str(), 0700) != 0 && errno != EEXIST) return {};
      if (end == pd.size()) break;
      start = end + 1;
    }
    return fsio::open_dir_beneath(dir_fd, pd);
  }

  bool has_partial_file(int dir_fd, const std::string& leaf) {
    if (options_.partial_dir.empty() || dir_fd < 0) return false;
    fsio::UniqueFd pdir = open_partial_dir(dir_fd, false);
    struct stat st;
    return pdir && ::fstatat(pdir.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
  }

  // After the file landed: its partial file goes, and the partial directory with it if
  // that leaves it empty (as rsync does; an absolute one stays).
  void remove_partial_file(const PendingFile& file) {
    if (!file.partial_basis) return;
    fsio::UniqueFd pdir = open_partial_dir(file.dir->get(), false);
    if (!pdir) return;
    std::string leaf(fsio::leaf_name(file.entry.path));
    if (::unlinkat(pdir.get(), leaf.c_str(), 0) != 0 && errno != ENOENT)
      report_.error(file.entry.path, errno, "remove partial file of");
    if (options_.partial_dir.front() != '/')
      ::unlinkat(file.dir->get(), options_.partial_dir.c_str(), AT_REMOVEDIR);
  }

  void note_decision(const FileEntry& e, const Decision& d, bool delta) {
    TransferStats& stats = report_.stats();
    if (d.report) {
      std::string suffix = e.is_symlink() ? " -> " + e.link_target : std::string();
      report_.item(d.itemize(), display_name(e), suffix);
    }
    if (d.created) {
      stats.created_files++;
      switch (e.type) {
        case FileType::regular:
          stats.created_regular++;
          break;
        case FileType::directory:
          stats.created_dirs++;
          break;
        case FileType::symlink:
          stats.created_symlinks++;
          break;
        case FileType::char_device:
        case FileType::block_device:
          stats.created_devices++;
          break;
        default:
          stats.created_specials++;
          break;
      }
    }
    if (d.action == Action::transfer) {
      stats.regular_transferred++;
      stats.transferred_size += e.size;
      // A delta's literal and matched bytes are known once its recipe is applied.
      if (!delta) stats.literal_data += e.size;
    }
    if (e.is_dir() && !options_.dry_run) {
      std::string path = e.path == "." ? std::string() : e.path;
      if (d.created) fresh_dirs_.insert(path);
      dirs_.push_back({std::move(path), e, d.final_mode});
    }
  }

  // ---- applying what needs no content ----

  // Removes what is in the way of `e` (something of another type).
  bool clear_way(int dir_fd, const FileEntry& e, bool only_if_dir) {
    std::string leaf(fsio::leaf_name(e.path));
    struct stat st;
    if (::fstatat(dir_fd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return true;
    if (!S_ISDIR(st.st_mode)) {
      if (only_if_dir) return true;
      if (::unlinkat(dir_fd, leaf.c_str(), 0) == 0) return true;
      report_.error(e.path, errno, "unlink");
      return false;
    }
    if (::unlinkat(dir_fd, leaf.c_str(), AT_REMOVEDIR) == 0) return true;
    if ((errno == ENOTEMPTY || errno == EEXIST) && options_.del) {
      std::string failed;
      int err = fsio::remove_tree(dir_fd, leaf, e.path, nullptr, failed);
      if (err == 0) return true;
      report_.error(failed, err, "delete");
      return false;
    }
    report_.error_message(e.path,
                          "arsync: cannot delete non-empty directory: " + escape_name(e.path));
    return false;
  }

  void apply(int dir_fd, const FileEntry& e, const Decision& d) {
    std::string leaf(fsio::leaf_name(e.path));
    const char* name = leaf.c_str();
    switch (d.action) {
      case Action::keep:
        return;
      case Action::attrs:
        if (int err = fsio::apply_metadata_at(dir_fd, name, e, d.final_mode, policy_))
          report_.error(e.path, err, "set attributes of");
        return;
      case Action::dir:
        // Contents are written before the directory's own mode is applied at the end, so a
        // read-only directory must be writable meanwhile.
        if (!is_root_) ensure_writable_dir(dir_fd, e.path == "." ? "." : name);
        return;
      case Action::make_dir:
        if (d.replace && !clear_way(dir_fd, e, false)) return;
        if (::mkdirat(dir_fd, name, 0700) != 0 && errno != EEXIST)
          report_.error(e.path, errno, "mkdir");
        return;
      case Action::make_link:
      case Action::make_node:
        if (d.replace && !clear_way(dir_fd, e, true)) return;
        make_at_temp_name(dir_fd, leaf, e, d);
        return;
      case Action::transfer:
        return;
    }
  }

  void ensure_writable_dir(int dir_fd, const char* name) {
    struct stat st;
    if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
        (st.st_mode & S_IRWXU) != S_IRWXU) {
      ::fchmodat(dir_fd, name, (st.st_mode & 07777) | S_IRWXU, 0);
    }
  }

  // Symlinks and nodes are made under a temporary name and renamed, so the old entry stays
  // until the new one is complete.
  void make_at_temp_name(int dir_fd, const std::string& leaf, const FileEntry& e,
                         const Decision& d) {
    std::string temp = fsio::temp_name_for(leaf);
    int rc = e.is_symlink() ? ::symlinkat(e.link_target.c_str(), dir_fd, temp.c_str())
                            : ::mknodat(dir_fd, temp.c_str(), fsio::mode_type_bits(e.type) | 0600,
                                        static_cast<dev_t>(e.rdev));
    if (rc != 0) {
      report_.error(e.path, errno, e.is_symlink() ? "symlink" : "mknod");
      return;
    }
    int err = fsio::apply_metadata_at(dir_fd, temp.c_str(), e, d.final_mode, policy_);
    if (!err && ::renameat(dir_fd, temp.c_str(), dir_fd, leaf.c_str()) != 0) err = errno;
    if (err) {
      ::unlinkat(dir_fd, temp.c_str(), 0);
      report_.error(e.path, err, e.is_symlink() ? "symlink" : "mknod");
    }
  }

  // ---- content ----

  // Registers and requests `files` in slices that fit the in-flight window.
  void request(std::vector<PendingFile>& files) {
    constexpr size_t kSlice = 64;
    for (size_t start = 0; start < files.size(); start += kSlice) {
      size_t end = std::min(files.size(), start + kSlice);
      ContentRequest request;
      request.ids.reserve(end - start);
      std::unique_lock lock(mutex_);
      idle_.wait(lock, [&] { return in_flight_ + static_cast<int>(end - start) <= kMaxInFlight; });
      if (content_closed_) {
        lock.unlock();
        for (size_t i = start; i < end; ++i) report_not_received(files[i]);
        continue;
      }
      std::vector<uint64_t> delta_ids;
      for (size_t i = start; i < end; ++i) {
        uint64_t id = files[i].entry.id;
        (files[i].delta ? delta_ids : request.ids).push_back(id);
        pending_.emplace(id, std::move(files[i]));
        ++in_flight_;
      }
      lock.unlock();
      if (!request.ids.empty()) channel_.request(std::move(request));
      // Hashing the basis reads it whole: on the pool, many files at once.
      for (uint64_t id : delta_ids) copies_.run([this, id] { start_delta(id); });
    }
  }

  // ---- deltas (docs/DELTA.md): the receiver hashes its basis, answers the sender's
  // probes, and applies the recipe. Any failure asks for the file whole. ----

  struct DeltaState {
    // Ready once the basis is hashed; null if that failed. Only a large basis is announced
    // before its hash is ready (see kEarlySignatureFrom): its first probe may wait for it.
    std::shared_future<std::shared_ptr<DeltaTarget>> target;
    fsio::TempFile temp;  // from the first recipe part on
  };

  void start_delta(uint64_t id) {
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

  // What the receiver's other files hold, with the chunk size of a basis (null if nothing).
  const merkle::ChunkIndex* elsewhere(const merkle::ChunkParams& params) const {
    return index_ ? index_->find(params) : nullptr;
  }

  DeltaTarget::OpenSource open_source(unsigned bits) const {
    if (!index_) return {};
    return [index = index_.get(), bits](uint32_t file) { return index->open(bits, file); };
  }

  // A new file, whose content may be in other files of the destination: hashes what it may
  // copy from (if not done yet), and asks for a delta against an empty basis.
  void start_index_delta(uint64_t id, uint64_t size) {
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

  // False if the file no longer awaits content (the content stream ended).
  bool register_delta(uint64_t id, DeltaState state) {
    std::lock_guard lock(mutex_);
    if (content_closed_ || !pending_.count(id)) return false;
    deltas_.emplace(id, std::move(state));
    return true;
  }

  // The state's target once its basis is hashed (waiting for that if need be), or null
  // after asking for the file whole because hashing failed.
  DeltaTarget* ready_target(uint64_t id, DeltaState& state) {
    DeltaTarget* target = state.target.get().get();
    if (!target) {
      drop_delta(id);
      channel_.request(ContentRequest{{id}});
    }
    return target;
  }

  // Asks for a file still counted in flight as a whole, instead of as a delta.
  void ask_whole(uint64_t id) {
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(id);
      if (content_closed_ || it == pending_.end()) return;
      it->second.delta = false;
      report_.stats().literal_data += it->second.entry.size;
    }
    channel_.request(ContentRequest{{id}});
  }

  // The delta state of file `id`, if it is being received as a delta. Only the content
  // thread erases states, so the pointer stays valid on that thread.
  DeltaState* find_delta(uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = deltas_.find(id);
    return it == deltas_.end() ? nullptr : &it->second;
  }

  // Ends the delta of file `id` (discarding its temporary file); true if there was one.
  // Also called when whole content (or a failure) arrives for a file asked for as a delta:
  // the sender could not do the delta and sent the file whole instead.
  bool drop_delta(uint64_t id) {
    std::lock_guard lock(mutex_);
    if (deltas_.erase(id) == 0) return false;
    if (auto it = pending_.find(id); it != pending_.end() && it->second.delta) {
      it->second.delta = false;
      report_.stats().literal_data += it->second.entry.size;
    }
    return true;
  }

  void take_probe(const DeltaProbe& probe) {
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

  void take_recipe(const DeltaRecipe& recipe) {
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

  // Where a file's new content is written: a temporary file renamed over the final name
  // once complete, or with --inplace the file itself.
  fsio::TempFile create_output(int dir_fd, std::string_view leaf, unsigned mode) {
    if (options_.inplace) return fsio::TempFile::open_in_place(dir_fd, leaf, mode);
    return fsio::TempFile::create(dir_fd, leaf, mode);
  }
  const char* output_verb() const { return options_.inplace ? "open" : "mkstemp"; }

  // In place, the old version may be longer than the new one: cut it at the new size.
  static int end_in_place(fsio::TempFile& out, uint64_t size) {
    if (!out.in_place()) return 0;
    return ::ftruncate(out.fd(), static_cast<off_t>(size)) == 0 ? 0 : errno;
  }

  std::optional<PendingFile> take_pending(uint64_t id) {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return std::nullopt;
    PendingFile file = std::move(it->second);
    pending_.erase(it);
    return file;
  }

  void complete_one() {
    std::lock_guard lock(mutex_);
    --in_flight_;
    idle_.notify_all();
  }

  void content_loop() {
    receive_content();
    // The content stream ended: anything still awaited will never come (the peer failed).
    std::vector<PendingFile> lost;
    for (auto& [id, state] : chunks_) {
      // Ranges that arrived past a gap are not part of the start of the file (in place,
      // the file is what it is: part new, part old).
      if (state.assembly && state.temp.valid() && !state.temp.in_place() &&
          ::ftruncate(state.temp.fd(), static_cast<off_t>(state.assembly->contiguous())) != 0) {
        state.temp.discard();
      }
      keep_partial(state.temp, state.file);
      lost.push_back(std::move(state.file));
    }
    chunks_.clear();  // discards their temporary files
    {
      std::lock_guard lock(mutex_);
      content_closed_ = true;  // and so later requests fail at once (see request())
      for (auto& [id, state] : deltas_) {
        if (auto it = pending_.find(id); it != pending_.end()) keep_partial(state.temp, it->second);
      }
      deltas_.clear();
      for (auto& [id, file] : pending_) lost.push_back(std::move(file));
      pending_.clear();
      for (auto& [id, waiting] : awaiting_)
        lost.push_back(PendingFile{waiting.dir, std::move(waiting.entry), 0, false, false, false,
                                   nullptr, false});
      awaiting_.clear();
    }
    for (auto& file : lost) {
      report_not_received(file);
      complete_one();
    }
  }

  // With --partial, what arrived of a file whose content stopped coming takes the file's
  // name, as in rsync: what arrived from the start is the start of the new version, and
  // the next run updates it by a delta that sends only the rest. Without, it is discarded
  // and the old version stays.
  // With --partial-dir it goes to the partial directory instead, under the file's name,
  // and the final name keeps the old version. In place (--inplace) it already is the file.
  void keep_partial(fsio::TempFile& temp, const PendingFile& file) {
    if (!options_.partial || !temp.valid() || temp.in_place()) return;
    struct stat st;
    if (::fstat(temp.fd(), &st) != 0 || st.st_size == 0) return;
    const std::string& path = file.entry.path;
    if (options_.partial_dir.empty()) {
      if (int err = temp.commit()) report_.error(path, err, "rename");
      return;
    }
    fsio::UniqueFd pdir = open_partial_dir(file.dir->get(), true);
    if (!pdir) {
      report_.error(path, errno, "make partial directory for");
      return;
    }
    if (int err = temp.commit_to(pdir.get(), fsio::leaf_name(path)))
      report_.error(path, err, "rename into the partial directory");
  }

  void report_not_received(const PendingFile& file) {
    report_.error_message(file.entry.path, "arsync: \"" + escape_name(file.entry.path) +
                                               "\" was not received: the sender stopped");
  }

  void receive_content() {
    while (auto message = channel_.next_content()) {
      if (auto* fds = std::get_if<ContentFds>(&*message)) {
        dispatch_copies(*fds);
      } else if (auto* chunk = std::get_if<ContentChunk>(&*message)) {
        land_chunk(*chunk);
      } else if (auto* probe = std::get_if<DeltaProbe>(&*message)) {
        take_probe(*probe);
      } else if (auto* recipe = std::get_if<DeltaRecipe>(&*message)) {
        take_recipe(*recipe);
      } else if (auto* digest = std::get_if<ContentDigest>(&*message)) {
        take_digest(*digest);
      } else {
        auto& failed = std::get<ContentFailed>(*message);
        if (failed.digest) {
          // A file whose digest could not be computed: the sender could not read it.
          if (auto waiting = take_awaiting(failed.id)) {
            if (failed.vanished) {
              report_.vanished(waiting->entry.path);
            } else {
              report_.error_message(waiting->entry.path, "arsync: " + failed.message);
            }
            complete_one();
          }
          continue;
        }
        drop_delta(failed.id);  // whole content (or its failure) ends a delta: see drop_delta
        std::optional<PendingFile> file;
        if (auto it = chunks_.find(failed.id); it != chunks_.end()) {
          file = std::move(it->second.file);
          chunks_.erase(it);
        } else {
          file = take_pending(failed.id);
        }
        if (!file) continue;
        if (failed.vanished) {
          report_.vanished(file->entry.path);
        } else {
          report_.error_message(file->entry.path, "arsync: " + failed.message);
        }
        complete_one();
      }
    }
  }

  // Copies run as tasks of a few files each: enough to keep every core busy, few enough
  // that the hand-off does not cost more than the copy.
  void dispatch_copies(ContentFds& fds) {
    constexpr size_t kFilesPerTask = 64;
    using Job = std::vector<std::pair<PendingFile, ContentFd>>;
    auto job = std::make_shared<Job>();
    auto flush = [&] {
      if (job->empty()) return;
      // task_group wants a const-callable task: the job's state lives behind a pointer.
      copies_.run([this, job] {
        for (auto& [file, content] : *job) {
          land_from_fd(file, content);
          complete_one();
        }
      });
      job = std::make_shared<Job>();
    };
    for (auto& fd : fds) {
      drop_delta(fd.id);
      auto file = take_pending(fd.id);
      if (!file) continue;
      job->emplace_back(std::move(*file), std::move(fd));
      if (job->size() == kFilesPerTask) flush();
    }
    flush();
  }

  void land_from_fd(PendingFile& file, const ContentFd& content) {
    if (cancelled()) return;
    std::string leaf(fsio::leaf_name(file.entry.path));
    // Created with its final permissions where the umask allows, so that usually no chmod
    // is needed; set-id bits always come from the chmod after the chown.
    fsio::TempFile temp = create_output(file.dir->get(), leaf, file.final_mode & 0777);
    if (!temp.valid()) {
      report_.error(file.entry.path, errno, output_verb());
      return;
    }
    // In place, a hole in the source must overwrite the old bytes: no skipping holes.
    int err =
        fsio::copy_data(content.fd->get(), temp.fd(), content.size,
                        content.maybe_sparse && !temp.in_place(), &copy_method_, &cancel_flag());
    if (!err) err = end_in_place(temp, content.size);
    if (err) {
      if (err != ECANCELED) report_.error(file.entry.path, err == ENODATA ? EIO : err, "copy");
      return;
    }
    file.entry.size = content.size;
    finish_file(file, temp);
  }

  struct ChunkState {
    PendingFile file;
    fsio::TempFile temp;
    std::unique_ptr<ChunkAssembly> assembly;
  };

  void land_chunk(ContentChunk& chunk) {
    auto it = chunks_.find(chunk.id);
    if (it == chunks_.end()) {
      drop_delta(chunk.id);
      auto file = take_pending(chunk.id);
      if (!file) return;
      ChunkState state{std::move(*file), {}, {}};
      state.temp = create_output(state.file.dir->get(), fsio::leaf_name(state.file.entry.path),
                                 options_.inplace ? state.file.final_mode & 0777 : 0600);
      if (state.temp.valid()) {
        state.assembly = std::make_unique<ChunkAssembly>(state.temp.fd());
      } else {
        report_.error(state.file.entry.path, errno, output_verb());
      }
      it = chunks_.emplace(chunk.id, std::move(state)).first;
    }
    ChunkState& state = it->second;
    report_.stats().bytes_received += chunk.data.size();
    // A failure ends the file at once; the rest of its chunks find nothing pending and are
    // dropped.
    const int err = state.assembly ? state.assembly->land(chunk) : 0;
    if (!state.assembly || err) {
      if (err == EBADMSG) {
        report_.error_message(state.file.entry.path,
                              "arsync: \"" + escape_name(state.file.entry.path) +
                                  "\" was not updated: the sender's pieces of it overlap or "
                                  "pass its end");
      } else if (err) {
        report_.error(state.file.entry.path, err, "write");
      }
      chunks_.erase(it);
      complete_one();
      return;
    }
    if (!state.assembly->complete()) return;
    if (!state.assembly->digest_matches()) {
      const bool retained = state.temp.in_place();
      if (!state.file.retried) {
        // As rsync does: the old file stays (in place, the update stays: it cannot be
        // undone), and the content is asked for once more.
        report_.retrying(state.file.entry.path, retained);
        retry(std::move(state.file));
        chunks_.erase(it);
        return;
      }
      report_.error_message(state.file.entry.path,
                            "arsync: \"" + escape_name(state.file.entry.path) +
                                "\" failed verification twice: content hash mismatch, " +
                                (retained ? "update retained (--inplace: the old version is "
                                            "gone)"
                                          : "file not updated"));
    } else {
      const uint64_t size = state.assembly->contiguous();
      state.file.entry.size = size;
      if (int err = end_in_place(state.temp, size)) {
        report_.error(state.file.entry.path, err, "truncate");
      } else {
        finish_file(state.file, state.temp);
      }
    }
    chunks_.erase(it);
    complete_one();
  }

  // Asks again for a file still counted in flight (so the request stream stays open).
  void retry(PendingFile file) {
    file.retried = true;
    uint64_t id = file.entry.id;
    {
      std::lock_guard lock(mutex_);
      pending_.emplace(id, std::move(file));
    }
    channel_.request(ContentRequest{{id}});
  }

  void finish_file(PendingFile& file, fsio::TempFile& temp) {
    // One fstat instead of an unconditional chown and chmod: most new files already have
    // the owner and mode they should end with.
    struct stat have;
    int err = ::fstat(temp.fd(), &have) == 0
                  ? fsio::update_metadata_fd(temp.fd(), have, file.entry, file.final_mode, policy_)
                  : errno;
    if (err) {
      report_.error(file.entry.path, err, "set attributes of");
      return;
    }
    if ((err = temp.commit())) {
      report_.error(file.entry.path, err, "rename");
      return;
    }
    remove_partial_file(file);
    report_.stats().files_done++;
    report_.stats().bytes_done += file.entry.size;
  }

  // ---- after all content ----

  void link_followers() {
    for (const auto& f : followers_) {
      fsio::UniqueFd dir = fsio::open_dir_beneath(dest_.root_fd, fsio::parent_path(f.entry.path));
      fsio::UniqueFd leader_dir =
          fsio::open_dir_beneath(dest_.root_fd, fsio::parent_path(f.leader));
      std::string leaf(fsio::leaf_name(f.entry.path));
      std::string leader_leaf(fsio::leaf_name(f.leader));
      struct stat have, want;
      bool leader_there = leader_dir && ::fstatat(leader_dir.get(), leader_leaf.c_str(), &want,
                                                  AT_SYMLINK_NOFOLLOW) == 0;
      bool follower_there =
          dir && ::fstatat(dir.get(), leaf.c_str(), &have, AT_SYMLINK_NOFOLLOW) == 0;
      if (leader_there && follower_there && have.st_ino == want.st_ino &&
          have.st_dev == want.st_dev)
        continue;  // already one file
      report_.item("hf+++++++++", f.entry.path, " => " + f.leader);
      if (!follower_there) {
        report_.stats().created_files++;
        report_.stats().created_regular++;
      }
      if (options_.dry_run) continue;
      if (!dir || !leader_there) {
        report_.error(f.entry.path, dir ? errno : ENOENT, "link");
        continue;
      }
      if (follower_there && S_ISDIR(have.st_mode) && !clear_way(dir.get(), f.entry, false))
        continue;
      std::string temp = fsio::temp_name_for(leaf);
      int err = 0;
      if (::linkat(leader_dir.get(), leader_leaf.c_str(), dir.get(), temp.c_str(), 0) != 0) {
        err = errno;
      } else if (::renameat(dir.get(), temp.c_str(), dir.get(), leaf.c_str()) != 0) {
        err = errno;
        ::unlinkat(dir.get(), temp.c_str(), 0);
      }
      if (err) report_.error(f.entry.path, err, "link");
    }
  }

  // Directory modes and times last, deepest first: writing inside a directory changes its
  // mtime, and a read-only mode would stop the writes.
  void finish_dirs() {
    std::stable_sort(dirs_.begin(), dirs_.end(), [](const DirToFinish& a, const DirToFinish& b) {
      return std::count(a.path.begin(), a.path.end(), '/') + !a.path.empty() >
             std::count(b.path.begin(), b.path.end(), '/') + !b.path.empty();
    });
    for (const auto& d : dirs_) {
      fsio::UniqueFd fd = fsio::open_dir_beneath(dest_.root_fd, d.path);
      struct stat have;
      int err = fd && ::fstat(fd.get(), &have) == 0
                    ? fsio::update_metadata_fd(fd.get(), have, d.entry, d.final_mode, policy_)
                    : errno;
      if (err) report_.error(d.path.empty() ? "." : d.path, err, "set attributes of");
    }
  }

  const Destination& dest_;
  const SyncOptions& options_;
  Report& report_;
  ReceiverChannel& channel_;
  bool is_root_ = false;
  fsio::MetadataPolicy policy_;
  // Declared before the deltas that answer from it.
  std::unique_ptr<ReceiverIndex> index_;  // null unless deltas are on
  std::vector<HeldDeletion> held_;        // list thread only
  std::vector<PendingFile> held_new_;     // list thread only
  size_t held_new_count_ = 0;

  std::mutex mutex_;
  std::condition_variable idle_;
  int in_flight_ = 0;
  bool content_closed_ = false;  // the content stream ended: nothing more will arrive
  std::unordered_map<uint64_t, PendingFile> pending_;
  std::unordered_map<uint64_t, ChunkState> chunks_;  // content thread only
  std::unordered_map<uint64_t, DeltaState> deltas_;  // under mutex_; erased by the content thread
  // -c: entries waiting for the sender's digest, and digests that came before their entry
  // was decided (both under mutex_).
  static constexpr size_t kMaxEarlyDigests = 1 << 16;
  std::unordered_map<uint64_t, AwaitingDigest> awaiting_;
  std::unordered_map<uint64_t, fsio::Digest128> early_digests_;
  WorkerPool copies_;  // copies, and the per-entry probes of large batches
  std::atomic<fsio::CopyMethod> copy_method_{fsio::CopyMethod::copy_file_range};

  std::vector<DirToFinish> dirs_;
  std::unordered_set<std::string> fresh_dirs_;  // created by this run, contents not yet listed
  std::unordered_map<uint32_t, std::vector<LinkMember>> link_groups_;
  std::vector<HardlinkFollower> followers_;
};

}  // namespace

void run_receiver(const Destination& dest, const SyncOptions& options, Report& report,
                  ReceiverChannel& channel) {
  Receiver receiver(dest, options, report, channel);
  receiver.run();
}

}  // namespace arsync::engine
