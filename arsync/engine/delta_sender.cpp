#include "arsync/engine/delta_sender.h"

#include <optional>
#include <string>
#include <utility>

#include "merkle/delta_prober.h"
#include "merkle/file_hasher.h"
#include "merkle/recipe_encoder.h"

namespace arsync::engine {

struct DeltaSender::Session {
  // Answers of one file are taken one at a time, and never while its first probes are still
  // being sent.
  std::mutex mutex;
  fsio::UniqueFd fd;
  std::optional<merkle::DeltaProber> prober;
  merkle::Digest128 digest{};
};

DeltaSender::DeltaSender(SenderChannel& channel, TransferStats& stats, WorkerPool& pool,
                         SendWhole send_whole, bool in_place)
    : channel_(channel),
      stats_(stats),
      pool_(pool),
      send_whole_(std::move(send_whole)),
      in_place_(in_place) {}

DeltaSender::~DeltaSender() = default;

void DeltaSender::start(uint64_t id, fsio::UniqueFd fd, std::span<const uint8_t> signature_bytes) {
  stats_.bytes_received += signature_bytes.size();
  std::string error;
  std::optional<merkle::Signature> signature = merkle::decode_signature(signature_bytes, error);
  if (!signature) {
    send_whole_(id);
    return;
  }
  merkle::FileHashes hashes =
      merkle::hash_file(fd.get(), merkle::ChunkParams::for_bits(signature->chunk_bits));
  if (hashes.error) {
    send_whole_(id);  // which reports the read error, if it persists
    return;
  }
  auto session = std::make_shared<Session>();
  session->fd = std::move(fd);
  session->digest = hashes.digest;
  session->prober.emplace(std::move(hashes.tree), *signature);
  // Registered under the session's lock: an answer to the first probe waits until every
  // probe of this round is out.
  std::lock_guard session_lock(session->mutex);
  {
    std::lock_guard lock(mutex_);
    sessions_[id] = session;
  }
  advance(id, session, /*inline_recipe=*/true);
}

void DeltaSender::take_answer(uint64_t id, std::span<const uint8_t> answer) {
  stats_.bytes_received += answer.size();
  std::shared_ptr<Session> session = find(id);
  if (!session) return;
  std::lock_guard session_lock(session->mutex);
  std::string error;
  if (!session->prober->take_answer(answer, error)) {
    if (erase(id)) pool_.run([this, id] { send_whole_(id); });
    return;
  }
  advance(id, session, /*inline_recipe=*/false);
}

void DeltaSender::forget(uint64_t id) {
  erase(id);
}

std::shared_ptr<DeltaSender::Session> DeltaSender::find(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second;
}

bool DeltaSender::erase(uint64_t id) {
  std::lock_guard lock(mutex_);
  return sessions_.erase(id) > 0;
}

void DeltaSender::advance(uint64_t id, const std::shared_ptr<Session>& session,
                          bool inline_recipe) {
  while (std::optional<merkle::Bytes> probe = session->prober->next_probe()) {
    stats_.bytes_sent += probe->size();
    channel_.send_content(DeltaProbe{id, std::move(*probe)});
  }
  if (!session->prober->done()) return;
  // The receiver asked for the whole file meanwhile: it no longer wants a recipe.
  if (!erase(id)) return;
  if (inline_recipe) {
    send_recipe(id, *session);
  } else {
    pool_.run([this, id, session] {
      std::lock_guard session_lock(session->mutex);
      send_recipe(id, *session);
    });
  }
}

void DeltaSender::send_recipe(uint64_t id, Session& session) {
  merkle::DeltaPlan plan = session.prober->plan();
  if (in_place_) plan = merkle::restrict_for_in_place(plan);
  merkle::RecipeEncoder encoder(std::move(plan), session.digest);
  const merkle::ReadAt read = merkle::read_from_fd(session.fd.get());
  int error = 0;
  while (std::optional<merkle::RecipePart> part = encoder.next(read, error)) {
    merkle::Bytes bytes = merkle::encode_recipe_part(*part);
    stats_.bytes_sent += bytes.size();
    channel_.send_content(DeltaRecipe{id, std::move(bytes)});
  }
  // The file changed since it was hashed: the receiver drops the unfinished recipe when the
  // whole file arrives.
  if (error) send_whole_(id);
}

}  // namespace arsync::engine
