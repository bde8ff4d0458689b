// Everything the engine tells the user, and the exit code it adds up to. Thread-safe: the
// sender's walkers and the receiver's writers report concurrently.
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "arsync/engine/sync_options.h"
#include "arsync/engine/transfer_stats.h"
#include "fsio/file_entry.h"
#include "fsio/walk_tree.h"

namespace arsync::engine {

// rsync's exit codes, where arsync has the same condition.
enum ExitCode : int {
  kExitOk = 0,
  kExitSyntax = 1,
  kExitFileSelect = 3,
  kExitStartClient = 5,
  kExitFileIo = 11,
  kExitSignal = 20,
  kExitPartial = 23,
  kExitVanished = 24,
};

// Names as rsync prints them: bytes that are not printable become "\#ooo".
std::string escape_name(std::string_view name);

class Report {
 public:
  Report(const OutputOptions& output, FILE* out = stdout, FILE* err = stderr);

  // A change to one entry: `code` is the 11-character itemize string, `name` the path
  // (dirs with a trailing '/'), `suffix` " -> target" for symlinks or " => leader" for
  // hardlinks. Printed per -i / -v.
  void item(std::string_view code, std::string_view name, std::string_view suffix);
  void deleted(std::string_view name, fsio::FileType type);
  // A per-file failure: the transfer goes on, the exit code becomes 23.
  void error(std::string_view path, int err, std::string_view what);
  void error_message(std::string_view message);
  // The same, about one file (see set_file_problem_sink).
  void error_message(std::string_view path, std::string_view message);
  // A source file that disappeared during the run: exit code 24.
  void vanished(std::string_view path);
  // A file whose content failed verification and is being asked for once more; not an
  // error yet (a warning on the error stream, as rsync words it).
  // `retained`: with --inplace the failed update stays in the file (rsync's wording).
  void retrying(std::string_view path, bool retained = false);
  // Something left out on purpose: informational, on stdout, as rsync words it.
  void skipped(std::string_view path, fsio::SkipReason why);
  void info(std::string_view line);

  void fatal(int code) { raise(code); }
  int exit_code() const { return exit_code_.load(); }

  // Sends every line somewhere else instead of the FILE streams (the helper forwards them
  // to the client). `is_error`: the line would have gone to the error stream.
  using LineSink = std::function<void(std::string_view line, bool is_error)>;
  void set_sink(LineSink sink) { sink_ = std::move(sink); }
  // Sends the lines of per-file problems (error(), vanished(), retrying()) here instead, with
  // the file's path and whether it is being retried: the helper sends them to the client as
  // `error` control messages.
  using FileProblemSink =
      std::function<void(std::string_view path, std::string_view line, bool retry)>;
  void set_file_problem_sink(FileProblemSink sink) { file_sink_ = std::move(sink); }

  TransferStats& stats() { return stats_; }
  const OutputOptions& output() const { return output_; }

 private:
  void raise(int code);
  void write_line(FILE* stream, std::string_view line);
  void write_file_problem(std::string_view path, std::string_view line, bool retry);

  OutputOptions output_;
  FILE* out_;
  FILE* err_;
  LineSink sink_;
  FileProblemSink file_sink_;
  std::mutex mutex_;
  std::atomic<int> exit_code_{kExitOk};
  TransferStats stats_;
};

}  // namespace arsync::engine
