#include "merkle/file_hasher.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

namespace arsync::merkle {
namespace {

// Reads until `out` is full or the file ends; returns the bytes read, or -errno.
ssize_t read_full(int fd, uint64_t offset, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n =
        ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(done);
}

}  // namespace

FileHashes hash_file(int fd, const ChunkParams& params, size_t window, size_t segment_size,
                     WholeDigest whole) {
  if (window <= params.max_size) {
    throw std::invalid_argument("hash_file: window must exceed the largest chunk");
  }
  FileHashes out;
  // A small file gets a buffer its size (one more byte shows its end in one read); a file
  // that grows meanwhile is still read to its end, in more windows.
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    out.error = errno;
    return out;
  }
  window = static_cast<size_t>(std::clamp<uint64_t>(static_cast<uint64_t>(st.st_size) + 1,
                                                    uint64_t{params.max_size} + 1, window));
  std::vector<Chunk> chunks;
  StreamDigest digest;
  // The buffer holds the bytes of the chunk still open at the end of the previous window
  // (fewer than max_size), then the next window's bytes.
  const size_t capacity = window + params.max_size;
  auto buffer = std::make_unique_for_overwrite<uint8_t[]>(capacity);
  size_t carried = 0;        // bytes at the front of buffer already read and digested
  uint64_t carried_at = 0;   // their offset in the file
  uint64_t read_offset = 0;  // where the next read starts
  for (;;) {
    ssize_t n = read_full(fd, read_offset, {buffer.get() + carried, window});
    if (n < 0) {
      out.error = static_cast<int>(-n);
      return out;
    }
    const size_t fresh = static_cast<size_t>(n);
    const bool at_end = fresh < window;
    std::span<const uint8_t> data(buffer.get(), carried + fresh);
    std::vector<Chunk> found;
    // The digest runs beside the chunking: both only read the buffer.
    tbb::task_group digesting;
    if (whole == WholeDigest::compute) {
      digesting.run([&] { digest.update(buffer.get() + carried, fresh); });
    }
    found = chunk_and_hash_parallel(data, params, carried_at, at_end, segment_size);
    digesting.wait();
    chunks.insert(chunks.end(), found.begin(), found.end());
    read_offset += fresh;
    if (at_end) break;
    const uint64_t next_at = found.empty() ? carried_at : found.back().offset + found.back().length;
    carried = static_cast<size_t>(read_offset - next_at);
    std::memmove(buffer.get(), buffer.get() + (next_at - carried_at), carried);
    carried_at = next_at;
  }
  out.tree = MerkleTree::build(chunks, params);
  if (whole == WholeDigest::compute) out.digest = digest.finish();
  return out;
}

FileHashes hash_bytes(std::span<const uint8_t> data, const ChunkParams& params) {
  FileHashes out;
  tbb::task_group digesting;
  digesting.run([&] { out.digest = digest_bytes(data.data(), data.size()); });
  std::vector<Chunk> chunks = chunk_and_hash_parallel(data, params);
  digesting.wait();
  out.tree = MerkleTree::build(chunks, params);
  return out;
}

FileHashes hash_for_checksum(int fd, uint64_t listed_size) {
  FileHashes out = hash_file(fd, chunk_params_for_size(listed_size), kHashWindow,
                             kDefaultSegmentSize, WholeDigest::skip);
  if (!out.error) out.digest = out.tree.root_hash();
  return out;
}

std::vector<FileHashes> hash_files(std::span<const int> fds, std::span<const ChunkParams> params) {
  if (fds.size() != params.size()) {
    throw std::invalid_argument("hash_files: one ChunkParams per file");
  }
  std::vector<FileHashes> out(fds.size());
  tbb::parallel_for(size_t{0}, fds.size(),
                    [&](size_t i) { out[i] = hash_file(fds[i], params[i]); });
  return out;
}

}  // namespace arsync::merkle
