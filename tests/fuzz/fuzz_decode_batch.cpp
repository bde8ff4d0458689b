// libFuzzer target: decode_batch on arbitrary bytes.
#include <cstddef>
#include <cstdint>

#include "fsio/relative_path.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arsync;
  auto batch = fuzz::round_trip(data, size, dataplane::decode_batch, dataplane::encode_batch);
  if (!batch) return 0;
  // What the receiver relies on: every path is safe and lies directly inside the batch dir.
  fuzz::check(batch->dir.empty() || fsio::is_safe_relative_path(batch->dir), "unsafe dir");
  fuzz::check(batch->entries.size() <= dataplane::kMaxBatchEntries, "too many entries");
  for (const fsio::FileEntry& e : batch->entries) {
    bool root = e.path == "." && batch->dir.empty() && !batch->complete;
    fuzz::check(root || fsio::is_safe_relative_path(e.path), "unsafe entry path");
    fuzz::check(fsio::parent_path(e.path) == batch->dir, "entry outside the batch dir");
    fuzz::check(e.mode <= 07777, "mode beyond 07777");
    fuzz::check(e.mtime.nsec < 1'000'000'000, "nsec out of range");
    fuzz::check(e.is_device() || e.rdev == 0, "rdev on a non-device");
    fuzz::check(e.is_symlink() != e.link_target.empty(), "link target on the wrong type");
    fuzz::check(e.link_target.size() <= fsio::kMaxPathLength, "link target too long");
  }
  return 0;
}
