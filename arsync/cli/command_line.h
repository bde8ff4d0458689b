// The arsync command line: rsync's options, parsed into engine options.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "arsync/engine/sync_options.h"
#include "dataplane/quic_options.h"

namespace arsync::cli {

// Bad usage: exit code 1 with a one-line message.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  engine::SyncOptions sync;
  engine::OutputOptions output;
  std::vector<std::string> sources;
  std::string destination;
  bool mkpath = false;
  std::string rsh;                            // -e: "ssh -p PORT -i KEY ..."
  std::string helper_path = "arsync-helper";  // --helper: the program on the remote side
  bool accept_new_host_key = false;
  std::string transport = "auto";  // --transport: where the data goes (auto, quic, ssh)
  std::string quic_ports;          // --quic-port: where the helper may listen for QUIC
  uint32_t streams = 0;            // --streams: file streams in flight over QUIC (0: default)
  // --cc: the data plane's congestion controller on both ends; unset: the default.
  std::optional<dataplane::CongestionControl> congestion_control;
  uint64_t bwlimit = 0;   // --bwlimit in bytes per second, each way; 0: no limit
  bool progress = false;  // --progress: one overall line (see progress_meter.h)
  // -W / --no-whole-file, unset when neither was given: local copies then go whole (as
  // rsync's do), remote transfers by delta. The transfer sets sync.whole_file from it.
  std::optional<bool> whole_file;
  bool show_help = false;
  bool show_version = false;
  std::string help_text;
};

// Throws UsageError. Filter options keep their command-line order, since the first matching
// rule wins.
CommandLine parse_command_line(int argc, char** argv);

}  // namespace arsync::cli
