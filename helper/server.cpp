#include "helper/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "arsync/engine/receiver.h"
#include "arsync/engine/report.h"
#include "arsync/engine/sender.h"
#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "dataplane/quic_byte_stream.h"
#include "dataplane/rate_limit.h"
#include "dataplane/stream_channel.h"
#include "helper/hangup_watch.h"
#include "helper/progress_ticker.h"
#include "helper/quic_endpoint.h"

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

// The client's data stream, checked by its preamble.
int64_t accept_data_stream(dataplane::QuicConnection& quic) {
  std::optional<int64_t> id = quic.accept_stream();
  if (!id) throw std::runtime_error("the client closed the connection before opening it");
  char preamble[sizeof control::kDataStreamPreamble - 1];
  size_t got = 0;
  while (got < sizeof preamble) {
    const size_t n =
        quic.read(*id, {reinterpret_cast<uint8_t*>(preamble) + got, sizeof preamble - got});
    if (n == 0) throw std::runtime_error("the stream ended before its preamble");
    got += n;
  }
  if (std::string_view(preamble, sizeof preamble) != control::kDataStreamPreamble) {
    throw std::runtime_error("not an arsync data stream");
  }
  return *id;
}

}  // namespace

int serve_session(control::ByteStream& stream, const Confinement& confinement, int hangup_fd) {
  control::FrameReader reader(stream);
  dataplane::RateLimitedStream paced(stream);  // --bwlimit over SSH, from sync_start
  control::FrameWriter writer(paced);
  control::SyncStart start;
  std::unique_ptr<dataplane::QuicConnection> quic;
  control::TransportChoice transport;
  try {
    auto shared = control::accept_hello(control::receive_control(reader, "hello"), "hello");
    control::send_control(writer, control::make_hello_ack(shared));
    const auto hello_ack_sent = std::chrono::steady_clock::now();
    nlohmann::json next = control::receive_any_control(reader);
    if (next["type"] == "quic_init") {
      quic = answer_quic_init(next, confinement, writer,
                              std::chrono::steady_clock::now() - hello_ack_sent);
      transport = control::parse_transport(control::receive_control(reader, "transport"));
      if (transport.transport == control::DataTransport::quic && !quic) {
        throw control::ProtocolError("the client chose QUIC, but no QUIC client was accepted");
      }
      if (transport.transport == control::DataTransport::ssh) quic.reset();
      next = control::receive_control(reader, "sync_start");
    } else if (next["type"] != "sync_start") {
      throw control::ProtocolError("expected \"sync_start\" or \"quic_init\"");
    }
    start = control::parse_sync_start(next);
    paced.set_rate(start.bwlimit);
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

  // The data frames go over one QUIC stream the client opens, or stay on this channel.
  std::optional<dataplane::QuicByteStream> quic_stream;
  std::optional<control::FrameWriter> quic_writer;
  if (quic) {
    try {
      quic_stream.emplace(*quic, accept_data_stream(*quic));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "arsync-helper: QUIC data stream: %s\n", e.what());
      return 12;
    }
    quic_writer.emplace(*quic_stream);
  }
  // Over QUIC, a client that vanishes shows first as the end of its SSH channel.
  std::optional<HangupWatch> hangup;
  if (quic) hangup.emplace(hangup_fd, [&quic] { quic->abort(); });
  control::ByteStream& data_in = quic ? static_cast<control::ByteStream&>(*quic_stream) : stream;
  control::FrameWriter& data_out = quic ? *quic_writer : writer;

  std::string protocol_error;
  if (start.direction == Direction::push) {
    dataplane::StreamReceiverChannel channel(data_in, data_out, {},
                                             dataplane::ContentStreams{quic.get(), {}});
    ProgressTicker progress(writer, report.stats());
    engine::run_receiver(engine::Destination{dest.get(), created}, start.options, report, channel);
    progress.stop();
    protocol_error = channel.error();
  } else {
    std::vector<fsio::SourceSpec> sources;
    for (const auto& p : start.paths) sources.push_back({p, {}});
    if (single_file) sources.front().rename_top = start.single_file_name;
    dataplane::ContentStreams content{quic.get(), {}};
    if (transport.streams != 0) content.options.max_streams = transport.streams;
    dataplane::StreamSenderChannel channel(data_in, data_out, {}, content);
    engine::run_sender(sources, start.options, report, channel);
    protocol_error = channel.error();
  }
  if (quic_writer && protocol_error.empty()) {
    try {
      quic_writer->close();  // everything written, then FIN
    } catch (const std::exception& e) {
      protocol_error = e.what();
    }
  }
  if (!protocol_error.empty()) {
    std::fprintf(stderr, "arsync-helper: protocol error: %s\n", protocol_error.c_str());
    return 12;
  }
  hangup.reset();  // the ack_complete that follows is read below
  int code = report.exit_code();
  control::send_control(writer, control::make_sync_complete(code, report.stats()));
  try {
    control::receive_control(reader, "ack_complete");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync-helper: %s\n", e.what());
  }
  if (quic) {
    try {
      // The client has everything (its ack_complete says so): nothing to wait for.
      quic->close_now();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "arsync-helper: closing the QUIC connection: %s\n", e.what());
    }
  }
  return code;
}

}  // namespace arsync::helper
