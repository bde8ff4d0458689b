#include "arsync/engine/local_sync.h"

#include <thread>

#include "arsync/engine/memory_channel.h"
#include "arsync/engine/sender.h"

namespace arsync::engine {

void sync_local(const std::vector<fsio::SourceSpec>& sources, const Destination& dest,
                const SyncOptions& options, Report& report, bool pass_fds) {
  MemoryChannel channel(pass_fds);
  std::thread sender([&] { run_sender(sources, options, report, channel); });
  run_receiver(dest, options, report, channel);
  sender.join();
}

}  // namespace arsync::engine
