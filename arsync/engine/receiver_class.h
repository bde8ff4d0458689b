// The receiver's one class, behind run_receiver (receiver.h), declared here so that its
// parts can live in files of their own, one concern each: each section below names the file
// that defines it. Nothing here is for use beyond the receiver.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "arsync/engine/chunk_assembly.h"
#include "arsync/engine/decide.h"
#include "arsync/engine/delta_target.h"
#include "arsync/engine/dest_probe.h"
#include "arsync/engine/receiver.h"
#include "arsync/engine/receiver_index.h"
#include "arsync/engine/worker_pool.h"
#include "fsio/copy_data.h"
#include "fsio/metadata.h"
#include "fsio/temp_file.h"
#include "merkle/chunk_params.h"
#include "merkle/merkle_tree.h"

namespace arsync::engine::receiver_detail {

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

class Receiver {
 public:
  Receiver(const Destination& dest, const SyncOptions& options, Report& report,
           ReceiverChannel& channel);

  void run();

 private:
  // ---- running the receiver, and the file list (receiver.cpp) ----

  void process_batch(DirBatch& batch);

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

  DirFdPtr open_batch_dir(const std::string& path);

  bool is_link_member(const FileEntry& e) const;

  // With -H, as rsync does: the first member of an inode group (in rsync's list order) whose
  // content is already up to date is the one the others link to; when none is, the last
  // member receives the data. Followers are linked after all content has landed.
  void resolve_hardlink_groups();

  // A file that is already there, as a regular file, is updated by a delta against it
  // unless the user asked for whole files (or the channel cannot carry deltas).
  // With --partial-dir, a file kept there by an earlier run is the basis instead, whether
  // or not the file itself exists.
  bool wants_delta(const Decision& d, bool partial_basis = false) const;

  void note_decision(const FileEntry& e, const Decision& d, bool delta);

  // ---- content found across files (receiver_reuse.cpp) ----

  // A file new at its path (or replacing something else) whose content may be in other
  // files of the destination: a delta with no basis, answered from the index.
  bool wants_index_delta(const FileEntry& e, const Decision& d) const;

  // New files wait for the end of the file list (up to kMaxHeldNew of them) when the
  // destination existed before the run: the sender's walk lists directories in no fixed
  // order, so the file a new one was moved or copied from may be listed after it.
  static constexpr size_t kMaxHeldNew = 4096;
  bool may_hold_new(const FileEntry& e, const Decision& d) const;

  // At the end of the list: the new files held back, as deltas from the index where it
  // has candidates for them, whole otherwise.
  void release_held_new();

  bool has_new_files(const DirBatch& batch, const std::vector<Decision>& decisions,
                     const std::vector<bool>& valid) const;

  // Regular files in the batch's directory that the source does not list (and that are
  // not excluded): candidates for the index, left in place.
  void add_unlisted(int dir_fd, const DirBatch& batch);

  // --delete: an extraneous file, or a directory of files, becomes content for the index,
  // and is deleted once all content has landed (delete_held_back) instead of now.
  bool hold_for_index(int dir_fd, const std::string& dir, const std::string& path,
                      const struct stat& st);

  // The regular files beneath directory `name` of `parent_fd`, without following symlinks;
  // at most `budget` entries looked at. True if any was added.
  static constexpr size_t kMaxHeldWalk = 1 << 16;
  bool add_leaving_tree(int parent_fd, const std::string& name, const std::string& path, int depth,
                        size_t& budget);

  // The deletions held back by hold_for_index, now that no new file copies from them.
  void delete_held_back();

  // ---- -c: decisions that wait for the sender's digest (receiver_checksum.cpp) ----

  struct AwaitingDigest {
    DirFdPtr dir;
    FileEntry entry;
    DestState state;
  };

  // Counted in flight from here until decided (and, if it is then transferred, landed).
  void await_digest(DirFdPtr dir, FileEntry entry, DestState state);

  void take_digest(const ContentDigest& message);

  std::optional<AwaitingDigest> take_awaiting(uint64_t id);

  void decide_with_digest(AwaitingDigest waiting, std::optional<fsio::Digest128> digest);

  // ---- --partial and --partial-dir (receiver_partial.cpp) ----

  // The partial directory of the files in dir_fd (options_.partial_dir, beneath dir_fd
  // unless absolute, never through a symlink); created first if `create`. Invalid, with
  // errno set, if it is not there.
  fsio::UniqueFd open_partial_dir(int dir_fd, bool create);

  bool has_partial_file(int dir_fd, const std::string& leaf);

  // After the file landed: its partial file goes, and the partial directory with it if
  // that leaves it empty (as rsync does; an absolute one stays).
  void remove_partial_file(const PendingFile& file);

  // With --partial, what arrived of a file whose content stopped coming takes the file's
  // name, as in rsync: what arrived from the start is the start of the new version, and
  // the next run updates it by a delta that sends only the rest. Without, it is discarded
  // and the old version stays.
  // With --partial-dir it goes to the partial directory instead, under the file's name,
  // and the final name keeps the old version. In place (--inplace) it already is the file.
  void keep_partial(fsio::TempFile& temp, const PendingFile& file);

  // ---- applying what needs no content (receiver_apply.cpp) ----

  // Removes what is in the way of `e` (something of another type).
  bool clear_way(int dir_fd, const FileEntry& e, bool only_if_dir);

  void apply(int dir_fd, const FileEntry& e, const Decision& d);

  void ensure_writable_dir(int dir_fd, const char* name);

  // Symlinks and nodes are made under a temporary name and renamed, so the old entry stays
  // until the new one is complete.
  void make_at_temp_name(int dir_fd, const std::string& leaf, const FileEntry& e,
                         const Decision& d);

  // ---- content (receiver_content.cpp) ----

  struct ChunkState {
    PendingFile file;
    fsio::TempFile temp;
    std::unique_ptr<ChunkAssembly> assembly;
  };

  // Registers and requests `files` in slices that fit the in-flight window.
  void request(std::vector<PendingFile>& files);

  // Where a file's new content is written: a temporary file renamed over the final name
  // once complete, or with --inplace the file itself.
  fsio::TempFile create_output(int dir_fd, std::string_view leaf, unsigned mode);

  const char* output_verb() const;

  // In place, the old version may be longer than the new one: cut it at the new size.
  static int end_in_place(fsio::TempFile& out, uint64_t size);

  std::optional<PendingFile> take_pending(uint64_t id);

  void complete_one();

  void content_loop();

  void report_not_received(const PendingFile& file);

  void receive_content();

  // Copies run as tasks of a few files each: enough to keep every core busy, few enough
  // that the hand-off does not cost more than the copy.
  void dispatch_copies(ContentFds& fds);

  void land_from_fd(PendingFile& file, const ContentFd& content);

  void land_chunk(ContentChunk& chunk);

  // Asks again for a file still counted in flight (so the request stream stays open).
  void retry(PendingFile file);

  void finish_file(PendingFile& file, fsio::TempFile& temp);

  // ---- deltas (docs/DELTA.md): the receiver hashes its basis, answers the sender's probes, and
  // applies the recipe. Any failure asks for the file whole. (receiver_delta.cpp) ----

  struct DeltaState {
    // Ready once the basis is hashed; null if that failed. Only a large basis is announced
    // before its hash is ready (see kEarlySignatureFrom): its first probe may wait for it.
    std::shared_future<std::shared_ptr<DeltaTarget>> target;
    fsio::TempFile temp;  // from the first recipe part on
  };

  void start_delta(uint64_t id);

  // What the receiver's other files hold, with the chunk size of a basis (null if nothing).
  const merkle::ChunkIndex* elsewhere(const merkle::ChunkParams& params) const;

  DeltaTarget::OpenSource open_source(unsigned bits) const;

  // A new file, whose content may be in other files of the destination: hashes what it may
  // copy from (if not done yet), and asks for a delta against an empty basis.
  void start_index_delta(uint64_t id, uint64_t size);

  // False if the file no longer awaits content (the content stream ended).
  bool register_delta(uint64_t id, DeltaState state);

  // The state's target once its basis is hashed (waiting for that if need be), or null
  // after asking for the file whole because hashing failed.
  DeltaTarget* ready_target(uint64_t id, DeltaState& state);

  // Asks for a file still counted in flight as a whole, instead of as a delta.
  void ask_whole(uint64_t id);

  // The delta state of file `id`, if it is being received as a delta. Only the content
  // thread erases states, so the pointer stays valid on that thread.
  DeltaState* find_delta(uint64_t id);

  // Ends the delta of file `id` (discarding its temporary file); true if there was one.
  // Also called when whole content (or a failure) arrives for a file asked for as a delta:
  // the sender could not do the delta and sent the file whole instead.
  bool drop_delta(uint64_t id);

  void take_probe(const DeltaProbe& probe);

  void take_recipe(const DeltaRecipe& recipe);

  // ---- after all content (receiver_finish.cpp) ----

  void link_followers();

  // Directory modes and times last, deepest first: writing inside a directory changes its
  // mtime, and a read-only mode would stop the writes.
  void finish_dirs();

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

}  // namespace arsync::engine::receiver_detail
