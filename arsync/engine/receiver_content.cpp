// Content: requests within the in-flight window, and whole files landed from descriptors or chunks,
// checked and renamed into place.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "arsync/engine/cancel.h"
#include "arsync/engine/receiver_class.h"
#include "fsio/relative_path.h"

namespace arsync::engine::receiver_detail {

void Receiver::request(std::vector<PendingFile>& files) {
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

fsio::TempFile Receiver::create_output(int dir_fd, std::string_view leaf, unsigned mode) {
  if (options_.inplace) return fsio::TempFile::open_in_place(dir_fd, leaf, mode);
  return fsio::TempFile::create(dir_fd, leaf, mode);
}

const char* Receiver::output_verb() const {
  return options_.inplace ? "open" : "mkstemp";
}

int Receiver::end_in_place(fsio::TempFile& out, uint64_t size) {
  if (!out.in_place()) return 0;
  return ::ftruncate(out.fd(), static_cast<off_t>(size)) == 0 ? 0 : errno;
}

std::optional<PendingFile> Receiver::take_pending(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return std::nullopt;
  PendingFile file = std::move(it->second);
  pending_.erase(it);
  return file;
}

void Receiver::complete_one() {
  std::lock_guard lock(mutex_);
  --in_flight_;
  idle_.notify_all();
}

void Receiver::content_loop() {
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

void Receiver::report_not_received(const PendingFile& file) {
  report_.error_message(file.entry.path, "arsync: \"" + escape_name(file.entry.path) +
                                             "\" was not received: the sender stopped");
}

void Receiver::receive_content() {
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

void Receiver::dispatch_copies(ContentFds& fds) {
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

void Receiver::land_from_fd(PendingFile& file, const ContentFd& content) {
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

void Receiver::land_chunk(ContentChunk& chunk) {
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

void Receiver::retry(PendingFile file) {
  file.retried = true;
  uint64_t id = file.entry.id;
  {
    std::lock_guard lock(mutex_);
    pending_.emplace(id, std::move(file));
  }
  channel_.request(ContentRequest{{id}});
}

void Receiver::finish_file(PendingFile& file, fsio::TempFile& temp) {
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

}  // namespace arsync::engine::receiver_detail
