#include "arsync/engine/sender.h"

#include "arsync/engine/delta_sender.h"
#include "arsync/engine/worker_pool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include <tbb/concurrent_vector.h>

#include "fsio/beneath.h"
#include "merkle/file_digest.h"
#include "merkle/file_hasher.h"

namespace arsync::engine {
namespace {

// Where a listed regular file lives on the sender's disk.
struct SourceFile {
  uint32_t root = 0;
  std::string path;
};

class FileTable {
 public:
  uint64_t add(uint32_t root, std::string path) {
    auto it = files_.push_back(SourceFile{root, std::move(path)});
    return static_cast<uint64_t>(it - files_.begin()) + 1;  // 0 means "no content"
  }
  const SourceFile* find(uint64_t id) const {
    if (id == 0 || id > files_.size()) return nullptr;
    return &files_[id - 1];
  }

 private:
  tbb::concurrent_vector<SourceFile> files_;
};

// With -c, a file this large is listed without its digest, which follows on the content
// stream once hashed: the receiver hashes its own version meanwhile, instead of after the
// list arrives. Smaller files are hashed before their batch goes (cheaper than a message).
constexpr uint64_t kLateDigestFrom = 16 << 20;

class ListSink final : public fsio::WalkSink {
 public:
  ListSink(uint32_t root_index, int root_fd, const fsio::SourceSpec& spec,
           const SyncOptions& options, Report& report, SenderChannel& channel, FileTable& table,
           WorkerPool& late_hashers)
      : late_hashers_(late_hashers),
        root_index_(root_index),
        root_fd_(root_fd),
        spec_(spec),
        top_name_(fsio::split_source(spec.arg).top_name),
        options_(options),
        report_(report),
        channel_(channel),
        table_(table) {}

  void on_batch(fsio::DirBatch&& batch) override {
    TransferStats& stats = report_.stats();
    for (auto& entry : batch.entries) {
      stats.files++;
      switch (entry.type) {
        case fsio::FileType::regular:
          stats.regular_files++;
          stats.total_size += entry.size;
          entry.id = table_.add(root_index_, disk_path(entry.path));
          break;
        case fsio::FileType::directory:
          stats.dirs++;
          break;
        case fsio::FileType::symlink:
          stats.symlinks++;
          stats.total_size += entry.link_target.size();
          break;
        case fsio::FileType::char_device:
        case fsio::FileType::block_device:
          stats.devices++;
          break;
        default:
          stats.specials++;
          break;
      }
      stats.file_list_size += entry.path.size() + entry.link_target.size() + 16;
    }
    std::vector<std::pair<uint64_t, std::string>> late;
    if (options_.checksum) {
      add_digests(batch);
      for (const auto& entry : batch.entries) {
        if (entry.digest_follows) late.emplace_back(entry.id, disk_path(entry.path));
      }
    }
    channel_.send_batch(std::move(batch));
    for (auto& [id, path] : late) {
      // The sink ends with its source's walk, before these tasks do: they keep what they use.
      late_hashers_.run([root_fd = root_fd_, &channel = channel_, id, path = std::move(path)] {
        fsio::UniqueFd fd = fsio::open_file_beneath(root_fd, path);
        struct stat st;
        int err = fd && ::fstat(fd.get(), &st) == 0 ? 0 : errno;
        merkle::FileHashes hashes;
        if (!err) {
          // The listed size is what the receiver's parameters come from: the file's size
          // now gives the same unless it changed, and then the roots differ anyway.
          hashes = merkle::hash_for_checksum(fd.get(), static_cast<uint64_t>(st.st_size));
          err = hashes.error;
        }
        if (err) {  // the receiver reports it, as for content that cannot be read
          ContentFailed failed;
          failed.id = id;
          failed.vanished = err == ENOENT;
          failed.digest = true;
          failed.message = "checksum of \"" + path + "\" failed: " + std::strerror(err) + " (" +
                           std::to_string(err) + ")";
          channel.send_content(std::move(failed));
          return;
        }
        channel.send_content(ContentDigest{id, hashes.digest});
      });
    }
  }

  void on_error(const std::string& path, int err, const char* what) override {
    report_.error(path, err, what);
  }
  void on_vanished(const std::string& path) override { report_.vanished(path); }
  void on_skipped(const std::string& path, fsio::SkipReason why) override {
    report_.skipped(path, why);
  }

 private:
  // The list may rename a single top-level file; the disk keeps its real name.
  std::string disk_path(const std::string& listed) const {
    if (!spec_.rename_top.empty() && listed == spec_.rename_top) return top_name_;
    return listed;
  }

  // -c: the merkle root of each regular file (merkle::hash_for_checksum), the files of a
  // batch side by side and a large file's segments on all cores, while the receiver hashes
  // its own versions the same way.
  void add_digests(fsio::DirBatch& batch) {
    hashers_.for_each(
        batch.entries.size(),
        [&](size_t i) {
          fsio::FileEntry& entry = batch.entries[i];
          if (!entry.is_regular()) return;
          // Hard-linked files are decided as a group, once the whole list is in: their
          // digests go with the list.
          if (entry.size >= kLateDigestFrom && entry.hardlink_group == fsio::FileEntry::kNoLink) {
            entry.digest_follows = true;
            return;
          }
          fsio::UniqueFd fd = fsio::open_file_beneath(root_fd_, disk_path(entry.path));
          int err = errno;
          if (fd) {
            merkle::FileHashes hashes = merkle::hash_for_checksum(fd.get(), entry.size);
            err = hashes.error;
            entry.digest = hashes.digest;
          }
          if (err) {
            report_.error(entry.path, err, "checksum of");
            return;
          }
          entry.has_digest = true;
        },
        1);
  }

  WorkerPool& late_hashers_;
  uint32_t root_index_;
  int root_fd_;
  const fsio::SourceSpec& spec_;
  std::string top_name_;
  const SyncOptions& options_;
  Report& report_;
  SenderChannel& channel_;
  FileTable& table_;
  WorkerPool hashers_;
};

ContentMessage failure(uint64_t id, int err, const std::string& path) {
  ContentFailed failed;
  failed.id = id;
  failed.vanished = err == ENOENT;
  failed.message = std::string("send_files failed to open \"") + path +
                   "\": " + std::strerror(err) + " (" + std::to_string(err) + ")";
  return failed;
}

// Streams a file as bytes with its whole-file hash, as a network transport carries it. Reads
// are sized by what fstat said is left (plus a byte, to see the end without another read),
// so a small file is one chunk that also carries the hash. A file that grows meanwhile is
// read to its new end; the hash covers whatever was sent.
void send_as_chunks(uint64_t id, int fd, uint64_t size, const std::string& path, Report& report,
                    SenderChannel& channel) {
  constexpr size_t kChunk = 256 * 1024;
  merkle::StreamDigest digest;
  uint64_t offset = 0;
  for (;;) {
    const uint64_t left = size > offset ? size - offset : 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, left + 1));
    ContentChunk chunk;
    chunk.id = id;
    chunk.offset = offset;
    chunk.data = fsio::ByteBuffer(want, ContentChunk::kFrontRoom, ContentChunk::kBackRoom);
    ssize_t n = ::pread(fd, chunk.data.data(), want, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      channel.send_content(failure(id, errno, path));
      return;
    }
    chunk.data.shrink(static_cast<size_t>(n));
    digest.update(chunk.data.data(), chunk.data.size());
    offset += static_cast<uint64_t>(n);
    chunk.last = n == 0 || (static_cast<size_t>(n) < want && offset >= size);
    if (chunk.last) chunk.digest = digest.finish();
    report.stats().bytes_sent += chunk.data.size();
    const bool last = chunk.last;
    channel.send_content(std::move(chunk));
    if (last) return;
  }
}

// Opens a listed file for reading; nullopt after reporting the failure to the receiver.
fsio::UniqueFd open_listed(uint64_t id, const FileTable& table,
                           const std::vector<fsio::UniqueFd>& roots, SenderChannel& channel,
                           struct stat& st, const SourceFile*& file) {
  file = table.find(id);
  if (!file) {
    ContentFailed bad;
    bad.id = id;
    bad.message = "request for unknown file id " + std::to_string(id);
    channel.send_content(std::move(bad));
    return {};
  }
  fsio::UniqueFd fd = fsio::open_file_beneath(roots[file->root].get(), file->path);
  if (fd && ::fstat(fd.get(), &st) != 0) fd.reset();
  if (!fd) channel.send_content(failure(id, errno, file->path));
  return fd;
}

void serve_as_fds(const std::vector<uint64_t>& ids, const FileTable& table,
                  const std::vector<fsio::UniqueFd>& roots, Report& report,
                  SenderChannel& channel) {
  ContentFds batch;
  batch.reserve(ids.size());
  for (uint64_t id : ids) {
    struct stat st;
    const SourceFile* file = nullptr;
    fsio::UniqueFd fd = open_listed(id, table, roots, channel, st, file);
    if (!fd) continue;
    ContentFd content;
    content.id = id;
    content.size = static_cast<uint64_t>(st.st_size);
    content.maybe_sparse = static_cast<uint64_t>(st.st_blocks) * 512 < content.size;
    content.fd = std::make_shared<fsio::UniqueFd>(std::move(fd));
    report.stats().bytes_sent += content.size;
    batch.push_back(std::move(content));
  }
  if (!batch.empty()) channel.send_content(std::move(batch));
}

void serve_as_chunks(const std::vector<uint64_t>& ids, const FileTable& table,
                     const std::vector<fsio::UniqueFd>& roots, Report& report,
                     SenderChannel& channel) {
  for (uint64_t id : ids) {
    struct stat st;
    const SourceFile* file = nullptr;
    fsio::UniqueFd fd = open_listed(id, table, roots, channel, st, file);
    if (fd) {
      send_as_chunks(id, fd.get(), static_cast<uint64_t>(st.st_size), file->path, report, channel);
    }
  }
}

}  // namespace

void run_sender(const std::vector<fsio::SourceSpec>& sources, const SyncOptions& options,
                Report& report, SenderChannel& channel) {
  std::vector<fsio::UniqueFd> roots;
  for (const auto& spec : sources) {
    std::string dir = fsio::split_source(spec.arg).root_dir;
    roots.emplace_back(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  FileTable table;
  fsio::WalkOptions walk;
  walk.recursive = options.recursive;
  walk.links = options.links;
  walk.devices = options.devices;
  walk.specials = options.specials;
  walk.hard_links = options.hard_links;
  walk.filters = options.filters.empty() ? nullptr : &options.filters;

  WorkerPool late_hashers;  // -c: digests that follow their file's entry
  std::thread lister([&] {
    for (uint32_t i = 0; i < sources.size(); ++i) {
      ListSink sink(i, roots[i].get(), sources[i], options, report, channel, table, late_hashers);
      fsio::walk_tree(sources[i], walk, sink);
    }
    channel.end_list();
  });

  // With descriptor passing, serving a request is a few open() calls: done in parallel.
  // Byte streams are read in order on this thread (the network transports parallelise those
  // themselves). Deltas hash and read on the pool, so that many run at once.
  WorkerPool openers;
  auto serve = [&](const std::vector<uint64_t>& ids) {
    if (channel.can_pass_fds()) {
      serve_as_fds(ids, table, roots, report, channel);
    } else {
      serve_as_chunks(ids, table, roots, report, channel);
    }
  };
  DeltaSender deltas(
      channel, report.stats(), openers, [&](uint64_t id) { serve({id}); }, options.inplace);
  while (auto request = channel.next_request()) {
    if (auto* whole = std::get_if<ContentRequest>(&*request)) {
      // A file whose delta the receiver gave up on comes back as a whole-file request.
      for (uint64_t id : whole->ids) deltas.forget(id);
      if (channel.can_pass_fds()) {
        openers.run([&, ids = std::move(whole->ids)] { serve(ids); });
      } else {
        serve(whole->ids);
      }
    } else if (auto* delta = std::get_if<DeltaRequest>(&*request)) {
      openers.run([&, id = delta->id, signature = std::move(delta->signature)] {
        struct stat st;
        const SourceFile* file = nullptr;
        fsio::UniqueFd fd = open_listed(id, table, roots, channel, st, file);
        if (fd) deltas.start(id, std::move(fd), signature);
      });
    } else {
      auto& answer = std::get<DeltaAnswer>(*request);
      deltas.take_answer(answer.id, answer.answer);
    }
  }
  openers.wait();
  lister.join();
  late_hashers.wait();
  channel.end_content();
}

}  // namespace arsync::engine
