// Running the receiver, and the file list: each batch decided, applied and requested; hard-link
// groups; what the statistics count.

#include "arsync/engine/receiver.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "arsync/engine/cancel.h"
#include "arsync/engine/delete_extraneous.h"
#include "arsync/engine/list_order.h"
#include "arsync/engine/receiver_class.h"
#include "fsio/beneath.h"
#include "fsio/list_names.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

namespace {

std::string display_name(const FileEntry& entry) {
  if (entry.path == ".") return "./";
  return entry.is_dir() ? entry.path + "/" : entry.path;
}

bool is_root_entry(const DirBatch& batch, const FileEntry& entry) {
  return batch.dir.empty() && !batch.complete && entry.path == ".";
}

}  // namespace

Receiver::Receiver(const Destination& dest, const SyncOptions& options, Report& report,
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

void Receiver::run() {
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

void Receiver::process_batch(DirBatch& batch) {
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
      report_.error_message("arsync: refusing unsafe path in file list: \"" + escape_name(e.path) +
                            "\"");
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

DirFdPtr Receiver::open_batch_dir(const std::string& path) {
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

bool Receiver::is_link_member(const FileEntry& e) const {
  return options_.hard_links && e.hardlink_group != FileEntry::kNoLink && !e.is_dir();
}

void Receiver::resolve_hardlink_groups() {
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

bool Receiver::wants_delta(const Decision& d, bool partial_basis) const {
  return !options_.whole_file && channel_.carries_delta() && d.action == Action::transfer &&
         ((!d.created && !d.replace) || partial_basis);
}

void Receiver::note_decision(const FileEntry& e, const Decision& d, bool delta) {
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

}  // namespace arsync::engine::receiver_detail

namespace arsync::engine {

void run_receiver(const Destination& dest, const SyncOptions& options, Report& report,
                  ReceiverChannel& channel) {
  receiver_detail::Receiver receiver(dest, options, report, channel);
  receiver.run();
}

}  // namespace arsync::engine
