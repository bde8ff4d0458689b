// The sender's half of delta transfers (docs/DELTA.md): one session per file whose receiver
// sent a signature. A session hashes the file with the receiver's chunk size, walks down its
// merkle tree with probes as answers come back, then sends the recipe. Sessions of many
// files run at once and their messages interleave on the channel; none waits for another.
//
// Anything that stops a delta (a signature or answer that does not decode, a read error
// while hashing) ends the session and sends the file whole instead, through `send_whole`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>

#include "arsync/engine/channel.h"
#include "arsync/engine/transfer_stats.h"
#include "arsync/engine/worker_pool.h"
#include "fsio/unique_fd.h"

namespace arsync::engine {

class DeltaSender {
 public:
  // Sends file `id` whole (or its failure): the fallback when a delta cannot go on.
  using SendWhole = std::function<void(uint64_t id)>;

  // Recipes (which read the file) and fallbacks run on `pool`, off the thread that takes
  // the answers.
  // `in_place`: the receiver writes into its basis (--inplace), so recipes never copy from
  // a part of it already overwritten (merkle::restrict_for_in_place).
  DeltaSender(SenderChannel& channel, TransferStats& stats, WorkerPool& pool, SendWhole send_whole,
              bool in_place = false);
  ~DeltaSender();
  DeltaSender(const DeltaSender&) = delete;
  DeltaSender& operator=(const DeltaSender&) = delete;

  // On a DeltaRequest, with the listed file open: hashes it and sends the first probes (or,
  // when nothing needs asking, the recipe). Blocking work: call it from a worker task.
  void start(uint64_t id, fsio::UniqueFd fd, std::span<const uint8_t> signature);

  // On a DeltaAnswer: sends the next probes, or the recipe once the descent is done. An
  // answer for a file without a session (it went whole meanwhile) is ignored.
  void take_answer(uint64_t id, std::span<const uint8_t> answer);

  // The receiver asked for file `id` whole: its session, if any, ends without a word.
  void forget(uint64_t id);

 private:
  struct Session;

  std::shared_ptr<Session> find(uint64_t id);
  bool erase(uint64_t id);
  // Sends every probe the prober has to give; once the descent is over, ends the session
  // and sends the recipe (inline when `inline_recipe`, else on the pool). The caller holds
  // the session's lock.
  void advance(uint64_t id, const std::shared_ptr<Session>& session, bool inline_recipe);
  void send_recipe(uint64_t id, Session& session);

  SenderChannel& channel_;
  TransferStats& stats_;
  WorkerPool& pool_;
  SendWhole send_whole_;
  bool in_place_ = false;
  std::mutex mutex_;
  std::unordered_map<uint64_t, std::shared_ptr<Session>> sessions_;
};

}  // namespace arsync::engine
