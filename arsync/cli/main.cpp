// arsync: the client command.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <clocale>
#include <cstdio>
#include <optional>
#include <thread>

#include "arsync/cli/command_line.h"
#include "arsync/cli/progress_meter.h"
#include "arsync/cli/remote_sync.h"
#include "arsync/cli/summary.h"
#include "arsync/cli/transfer_plan.h"
#include "arsync/engine/cancel.h"
#include "arsync/engine/local_sync.h"
#include "arsync/engine/report.h"
#include "control/ssh_session.h"
#include "fsio/temp_file.h"

namespace {

using namespace arsync;

// Signals are taken by one thread: it asks the workers to stop, waits until their temporary
// files are gone, and exits with rsync's code for "killed by a signal".
void start_signal_thread() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    int sig = 0;
    sigwait(&set, &sig);
    engine::cancel_flag().store(true);
    std::fprintf(stderr, "arsync: received signal %d, removing temporary files\n", sig);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    while (fsio::live_temp_files() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::fflush(stdout);
    _exit(engine::kExitSignal);
  }).detach();
}

int run(int argc, char** argv) {
  cli::CommandLine cmd;
  try {
    cmd = cli::parse_command_line(argc, argv);
  } catch (const cli::UsageError& e) {
    std::fprintf(stderr, "arsync: %s (see 'arsync --help')\n", e.what());
    return engine::kExitSyntax;
  }
  if (cmd.show_help) {
    std::fputs(cmd.help_text.c_str(), stdout);
    return 0;
  }
  if (cmd.show_version) {
    std::printf("arsync %s\n", ARSYNC_VERSION);
    return 0;
  }
  if (cli::is_remote_transfer(cmd)) {
    if (!cmd.sync.partial_dir.empty()) {
      if (std::string error = engine::check_partial_dir(cmd.sync.partial_dir, false);
          !error.empty()) {
        std::fprintf(stderr, "arsync: %s (see 'arsync --help')\n", error.c_str());
        return engine::kExitSyntax;
      }
    }
    // Over a network a delta saves bytes on the wire: on unless -W.
    cmd.sync.whole_file = cmd.whole_file.value_or(false);
    try {
      return cli::sync_remote(cmd);
    } catch (const control::SshError& e) {
      std::fprintf(stderr, "arsync: %s\n", e.what());
      return 255;  // as ssh itself
    } catch (const std::exception& e) {
      // A connection that failed outside the transfer proper (opening the channel, ...).
      std::fprintf(stderr, "arsync: %s\n", e.what());
      return 12;
    }
  }

  // Locally, reading the basis costs about what copying costs: whole files unless
  // --no-whole-file, as in rsync.
  cmd.sync.whole_file = cmd.whole_file.value_or(true);
  auto start = std::chrono::steady_clock::now();
  engine::Report report(cmd.output);
  cli::TransferPlan plan;
  try {
    plan = cli::plan_transfer(cmd.sources, cmd.destination, cmd.sync.dry_run, cmd.mkpath);
  } catch (const cli::PlanError& e) {
    std::fprintf(stderr, "%s\n", e.message.c_str());
    return e.exit_code;
  }
  if (!cmd.output.quiet && (cmd.output.verbose > 0 || cmd.output.itemize > 0) && plan.dest_created)
    std::printf("created directory %s\n", plan.dest_display.c_str());
  if (!cmd.output.quiet && cmd.output.verbose > 0) std::printf("sending incremental file list\n");
  engine::Destination dest{plan.dest_fd.get(), plan.dest_created};
  {
    std::optional<cli::ProgressMeter> progress;
    if (cmd.progress && !cmd.output.quiet) {
      progress.emplace(stdout, [&report] {
        return cli::ProgressReading{report.stats().files_done, report.stats().bytes_done};
      });
    }
    engine::sync_local(plan.sources, dest, cmd.sync, report);
  }
  // Interrupted: the workers stopped and removed their temporary files on the way out.
  if (engine::cancelled()) return engine::kExitSignal;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fflush(stdout);
  cli::print_summary(stdout, report, elapsed, cmd.sync.dry_run);
  if (report.exit_code() == engine::kExitPartial) {
    std::fprintf(stderr,
                 "arsync error: some files/attrs were not transferred (see previous errors) "
                 "(code 23)\n");
  } else if (report.exit_code() == engine::kExitVanished) {
    std::fprintf(stderr,
                 "arsync warning: some files vanished before they could be transferred "
                 "(code 24)\n");
  }
  return report.exit_code();
}

}  // namespace

int main(int argc, char** argv) {
  std::setlocale(LC_CTYPE, "");
  start_signal_thread();
  return run(argc, argv);
}
