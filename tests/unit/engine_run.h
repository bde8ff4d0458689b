// One sender and one receiver run against each other through the given channels, from
// `src` into `dst`, quietly: what unit tests of the engine check afterwards.
#pragma once

#include <fcntl.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "arsync/engine/receiver.h"
#include "arsync/engine/sender.h"

namespace arsync::engine {

struct EngineOutcome {
  int exit_code = 0;
  uint64_t literal = 0;
  uint64_t matched = 0;
  uint64_t sent = 0;
  std::string errors;  // what the report printed as errors
};

inline EngineOutcome run_engine(const std::filesystem::path& src, const std::filesystem::path& dst,
                                const SyncOptions& options, ReceiverChannel& receiver_side,
                                SenderChannel& sender_side) {
  OutputOptions quiet;
  quiet.quiet = true;
  char* buffer = nullptr;
  size_t size = 0;
  FILE* err = ::open_memstream(&buffer, &size);
  EngineOutcome out;
  {
    Report report(quiet, stdout, err);
    fsio::UniqueFd dst_fd(::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::vector<fsio::SourceSpec> sources{{src.string() + "/", {}}};
    std::thread sender([&] { run_sender(sources, options, report, sender_side); });
    run_receiver(Destination{dst_fd.get(), false}, options, report, receiver_side);
    sender.join();
    out.exit_code = report.exit_code();
    out.literal = report.stats().literal_data;
    out.matched = report.stats().matched_data;
    out.sent = report.stats().bytes_sent;
  }
  std::fclose(err);
  out.errors.assign(buffer, size);
  std::free(buffer);
  return out;
}

}  // namespace arsync::engine
