// -c: decisions that wait for the sender's digest.

#include "arsync/engine/receiver_class.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

void Receiver::await_digest(DirFdPtr dir, FileEntry entry, DestState state) {
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

void Receiver::take_digest(const ContentDigest& message) {
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

std::optional<Receiver::AwaitingDigest> Receiver::take_awaiting(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = awaiting_.find(id);
  if (it == awaiting_.end()) return std::nullopt;
  AwaitingDigest waiting = std::move(it->second);
  awaiting_.erase(it);
  return waiting;
}

void Receiver::decide_with_digest(AwaitingDigest waiting, std::optional<fsio::Digest128> digest) {
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

}  // namespace arsync::engine::receiver_detail
