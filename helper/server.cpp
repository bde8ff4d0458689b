#include "helper/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "arsync/engine/receiver.h"
#include "arsync/engine/report.h"
#include "arsync/engine/sender.h"
#include "control/session_messages.h"
#include "dataplane/stream_channel.h"
#include "helper/progress_ticker.h"

namespace arsync::helper {
namespace {

using control::Direction;

// Applies the confinement to the request; throws RefusedError with the reason.
void check_allowed(const Confinement& c, control::SyncStart& start) {
  if (start.direction == Direction::push && c.read_only)
    throw RefusedError("this helper is read-only: it serves pulls, not pushes");
  if (start.direction == Direction::pull && c.write_only)
    throw RefusedError("this helper is write-only: it accepts pushes, not pulls");
  if (start.options.del && c.no_delete) throw RefusedError("this helper does not allow --delete");
  for (auto& path : start.paths) path = resolve_path(c, path);
}

// The push destination: created if missing (its last component only), as rsync does.
fsio::UniqueFd open_destination(const std::string& path, bool dry_run, bool& created) {
  created = false;
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (::mkdir(dir.c_str(), 0777) == 0) {
    created = true;
  } else if (errno != EEXIST) {
    if (dry_run && errno == ENOENT) return {};
    throw RefusedError("mkdir \"" + dir + "\" failed: " + std::strerror(errno));
  }
  fsio::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw RefusedError("cannot open \"" + dir + "\": " + std::strerror(errno));
  return fd;
}

// Whether the one path of `start` is a file to be copied under start.single_file_name: in a
// push, a destination that is not an existing directory; in a pull, a source that is not
// one.
bool names_single_file(const control::SyncStart& start) {
  if (start.single_file_name.empty()) return false;
  const std::string& path = start.paths.front();
  if (path.empty() || path.back() == '/') return false;
  struct stat st;
  if (start.direction == Direction::push) {
    return !(::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
  }
  return ::lstat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

// The directory a renamed file lands in: it must exist, as rsync requires.
fsio::UniqueFd open_parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  fsio::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    throw RefusedError("change_dir \"" + dir + "\" failed: " + std::strerror(errno) + " (" +
                       std::to_string(errno) + ")");
  }
  return fd;
}

}  // namespace

int serve_session(control::ByteStream& stream, const Confinement& confinement) {
  control::FrameReader reader(stream);
  control::FrameWriter writer(stream);
  control::SyncStart start;
  try {
    auto shared = control::accept_hello(control::receive_control(reader, "hello"), "hello");
    control::send_control(writer, control::make_hello_ack(shared));
    start = control::parse_sync_start(control::receive_control(reader, "sync_start"));
    check_allowed(confinement, start);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync-helper: %s\n", e.what());
    try {
      control::send_control(writer, control::make_error(e.what(), engine::kExitStartClient));
    } catch (const std::exception&) {
      // The client is gone; stderr already says why.
    }
    return engine::kExitStartClient;
  }

  // Everything the engine reports goes to stderr, which the client shows; stdout is the
  // protocol.
  engine::Report report(start.output, stdout, stderr);  // lines go to the sink below
  // The user reads this side's lines on the client.
  report.set_sink([&writer](std::string_view line, bool is_error) {
    try {
      dataplane::send_log(writer, is_error, line);
    } catch (const std::exception&) {
      // The client is gone; the line still reaches sshd's log through stderr.
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
  });
  // Per-file problems go to the client as `error` messages, with the file's name.
  report.set_file_problem_sink([&writer](std::string_view path, std::string_view line, bool retry) {
    try {
      control::post_control(writer, control::make_file_problem(
                                        {engine::escape_name(path), std::string(line), retry}));
    } catch (const std::exception&) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
  });
  fsio::UniqueFd dest;
  bool created = false;
  const bool single_file = names_single_file(start);
  if (start.direction == Direction::push) {
    try {
      dest = single_file ? open_parent(start.paths.front())
                         : open_destination(start.paths.front(), start.options.dry_run, created);
    } catch (const RefusedError& e) {
      const int code = single_file ? engine::kExitFileSelect : engine::kExitFileIo;
      control::send_control(writer, control::make_error(e.what(), code));
      return code;
    }
  }
  control::send_control(writer, control::make_sync_ready(single_file));

  std::string protocol_error;
  if (start.direction == Direction::push) {
    dataplane::StreamReceiverChannel channel(stream, writer);
    ProgressTicker progress(writer, report.stats());
    engine::run_receiver(engine::Destination{dest.get(), created}, start.options, report, channel);
    progress.stop();
    protocol_error = channel.error();
  } else {
    std::vector<fsio::SourceSpec> sources;
    for (const auto& p : start.paths) sources.push_back({p, {}});
    if (single_file) sources.front().rename_top = start.single_file_name;
    dataplane::StreamSenderChannel channel(stream, writer);
    engine::run_sender(sources, start.options, report, channel);
    protocol_error = channel.error();
  }
  if (!protocol_error.empty()) {
    std::fprintf(stderr, "arsync-helper: protocol error: %s\n", protocol_error.c_str());
    return 12;
  }
  int code = report.exit_code();
  control::send_control(writer, control::make_sync_complete(code, report.stats()));
  try {
    control::receive_control(reader, "ack_complete");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync-helper: %s\n", e.what());
  }
  return code;
}

}  // namespace arsync::helper
