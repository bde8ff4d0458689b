// Copies file content between descriptors inside the kernel, keeping holes as holes.
#pragma once

#include <atomic>
#include <cstdint>

namespace arsync::fsio {

// Copies `size` bytes from the start of `src_fd` to the start of `dst_fd` (a new, empty
// file). When `maybe_sparse`, holes in the source (SEEK_HOLE) are skipped so that they stay
// holes. Uses copy_file_range, then sendfile, then read/write, whichever the filesystems
// accept. Returns 0 or an errno value. ENODATA means the source was shorter than `size`
// (it changed while being copied). ECANCELED when `cancel` became true between chunks.
//
// `method` remembers across calls which mechanism worked (copy_file_range between two
// filesystems fails the same way for every file, so it is tried once, not per file).
enum class CopyMethod : int { copy_file_range, sendfile, read_write };
int copy_data(int src_fd, int dst_fd, uint64_t size, bool maybe_sparse,
              std::atomic<CopyMethod>* method = nullptr, const std::atomic<bool>* cancel = nullptr);

}  // namespace arsync::fsio
