// The counters behind --stats, named after rsync's fields.
#pragma once

#include <atomic>
#include <cstdint>

namespace arsync::engine {

struct TransferStats {
  std::atomic<uint64_t> files{0};  // every entry in the list
  std::atomic<uint64_t> regular_files{0};
  std::atomic<uint64_t> dirs{0};
  std::atomic<uint64_t> symlinks{0};
  std::atomic<uint64_t> devices{0};
  std::atomic<uint64_t> specials{0};
  std::atomic<uint64_t> created_files{0};
  std::atomic<uint64_t> created_regular{0};
  std::atomic<uint64_t> created_dirs{0};
  std::atomic<uint64_t> created_symlinks{0};
  std::atomic<uint64_t> created_devices{0};
  std::atomic<uint64_t> created_specials{0};
  std::atomic<uint64_t> deleted_files{0};
  std::atomic<uint64_t> deleted_regular{0};
  std::atomic<uint64_t> deleted_dirs{0};
  std::atomic<uint64_t> deleted_symlinks{0};
  std::atomic<uint64_t> deleted_devices{0};
  std::atomic<uint64_t> deleted_specials{0};
  std::atomic<uint64_t> regular_transferred{0};
  std::atomic<uint64_t> total_size{0};
  std::atomic<uint64_t> transferred_size{0};
  std::atomic<uint64_t> literal_data{0};
  std::atomic<uint64_t> matched_data{0};
  std::atomic<uint64_t> file_list_size{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> bytes_received{0};
  // Regular files, and their bytes, that have landed at the destination so far (progress).
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_done{0};
};

}  // namespace arsync::engine
