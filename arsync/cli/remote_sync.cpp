#include "arsync/cli/remote_sync.h"

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <variant>

#include "arsync/cli/helper_output.h"
#include "arsync/cli/progress_meter.h"
#include "arsync/cli/quic_link.h"
#include "arsync/cli/stderr_relay.h"
#include "arsync/cli/summary.h"
#include "arsync/cli/transfer_plan.h"
#include "arsync/engine/receiver.h"
#include "arsync/engine/report.h"
#include "arsync/engine/sender.h"
#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "control/ssh_session.h"
#include "dataplane/quic_byte_stream.h"
#include "dataplane/rate_limit.h"
#include "dataplane/socket_address.h"
#include "dataplane/stream_channel.h"

namespace arsync::cli {
namespace {

constexpr int kExitSsh = 255;
constexpr int kExitSocket = 10;  // rsync's "error in socket I/O"
constexpr int kExitProtocol = 12;
constexpr int kExitHelperMissing = 127;

struct Plan {
  control::Direction direction = control::Direction::push;
  control::RemoteSpec remote;
  std::vector<std::string> remote_paths;  // pull: sources on the remote side
  std::vector<std::string> local_paths;   // push: sources here
};

Plan make_plan(const CommandLine& cmd) {
  Plan plan;
  auto dest = control::parse_remote_spec(cmd.destination);
  std::optional<control::RemoteSpec> first_remote_source;
  for (const auto& src : cmd.sources) {
    auto spec = control::parse_remote_spec(src);
    if (spec && dest) throw UsageError("both source and destination are remote");
    if (spec) {
      if (first_remote_source &&
          (spec->host != first_remote_source->host || spec->user != first_remote_source->user))
        throw UsageError("all remote sources must be on the same host");
      if (!first_remote_source) first_remote_source = spec;
      plan.remote_paths.push_back(spec->path);
    } else {
      plan.local_paths.push_back(src);
    }
  }
  if (dest) {
    plan.direction = control::Direction::push;
    plan.remote = *dest;
    plan.remote_paths = {dest->path.empty() ? std::string(".") : dest->path};
  } else {
    if (!plan.local_paths.empty()) throw UsageError("cannot mix local and remote sources");
    plan.direction = control::Direction::pull;
    plan.remote = *first_remote_source;
  }
  return plan;
}

// One file to a new name, as with cp (see SyncStart::single_file_name): a push knows here
// whether its source is a file, a pull learns it from the helper. "" when it cannot apply.
std::string single_file_name_for(const Plan& plan, const CommandLine& cmd) {
  if (plan.direction == control::Direction::push) {
    struct stat st;
    const std::string& src = plan.local_paths.front();
    const std::string& dest = plan.remote_paths.front();
    if (plan.local_paths.size() == 1 && !src.empty() && src.back() != '/' &&
        ::lstat(src.c_str(), &st) == 0 && !S_ISDIR(st.st_mode) && !dest.empty() &&
        dest.back() != '/' && leaf_of(dest) != "." && leaf_of(dest) != "..") {
      return leaf_of(dest);
    }
    return {};
  }
  if (plan.remote_paths.size() == 1 && plan.remote_paths.front().back() != '/' &&
      may_name_a_file(cmd.destination)) {
    return leaf_of(cmd.destination);
  }
  return {};
}

// quic_init goes right behind hello when QUIC is wanted and possible (a direct connection)
// and the SSH round trip is known: the helper then starts its QUIC handshake from that
// estimate, not from the moment quic_init arrives (right behind hello, at once).
std::optional<QuicInitSent> send_quic_init_early(const CommandLine& cmd,
                                                 control::SshSession& session,
                                                 control::FrameWriter& writer) {
  if (cmd.transport == "ssh" || session.server_address().empty()) return std::nullopt;
  std::optional<std::chrono::microseconds> rtt = session.round_trip_time();
  if (!rtt) return std::nullopt;
  return send_quic_init(writer, cmd, rtt);
}

// The data plane: QUIC when both sides can and the handshake completes, else the SSH
// channel. An exit code when the run must stop here.
std::optional<int> choose_transport(const CommandLine& cmd, const std::string& host,
                                    const std::vector<std::string>& shared,
                                    control::SshSession& session, control::FrameWriter& writer,
                                    control::FrameReader& reader,
                                    const std::optional<QuicInitSent>& early, QuicLink& quic) {
  if (cmd.transport == "ssh") return std::nullopt;
  const std::string address = session.server_address();
  const bool offered =
      std::find(shared.begin(), shared.end(), control::kQuicCapability) != shared.end();
  if (!offered && !early) {
    quic.why_not = "the helper does not offer QUIC";
  } else if (address.empty()) {
    quic.why_not = "the SSH connection goes through a proxy";
  } else {
    try {
      QuicInitSent init = early ? *early : send_quic_init(writer, cmd, session.round_trip_time());
      quic = finish_quic_link(reader, init, address, cmd);
      control::TransportChoice choice;
      if (quic.connection) choice = {control::DataTransport::quic, cmd.streams};
      control::send_control(writer, control::make_transport(choice));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "arsync: %s: %s\n", host.c_str(), e.what());
      return kExitProtocol;
    }
  }
  if (!quic.connection && cmd.transport == "quic") {
    std::fprintf(stderr, "arsync: no QUIC data plane to %s: %s\n", host.c_str(),
                 quic.why_not.c_str());
    return kExitSocket;
  }
  if (!quic.connection && cmd.output.verbose > 0 && !cmd.output.quiet) {
    std::printf("QUIC unavailable (%s): the data goes over SSH\n", quic.why_not.c_str());
  }
  return std::nullopt;
}

// Over QUIC, each file's content on streams of its own; --streams caps how many at once.
dataplane::ContentStreams content_streams(dataplane::QuicConnection* connection, uint32_t streams) {
  dataplane::ContentStreams content{connection, {}};
  if (streams != 0) content.options.max_streams = streams;
  return content;
}

int worse(int a, int b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return a == engine::kExitVanished ? b : a;
}

}  // namespace

bool is_remote_transfer(const CommandLine& cmd) {
  try {
    if (control::parse_remote_spec(cmd.destination)) return true;
    for (const auto& s : cmd.sources)
      if (control::parse_remote_spec(s)) return true;
  } catch (const std::invalid_argument&) {
    return true;  // malformed remote syntax: sync_remote reports it
  }
  return false;
}

int sync_remote(const CommandLine& cmd) {
  Plan plan;
  control::RshCommand rsh;
  try {
    plan = make_plan(cmd);
    if (!cmd.rsh.empty()) rsh = control::parse_rsh_command(cmd.rsh);
    if (!cmd.quic_ports.empty() && !dataplane::parse_port_range(cmd.quic_ports)) {
      throw UsageError("--quic-port wants N or N-M, not \"" + cmd.quic_ports + "\"");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync: %s (see 'arsync --help')\n", e.what());
    return engine::kExitSyntax;
  }
  control::SshTarget target = rsh.target;
  target.host = plan.remote.host;
  if (!plan.remote.user.empty()) target.user = plan.remote.user;
  control::SshOptions ssh_options = rsh.options;
  if (cmd.accept_new_host_key) ssh_options.accept_new_host_key = true;

  const std::string single_file_name = single_file_name_for(plan, cmd);
  // Otherwise the destination of a pull is prepared first, as in local mode.
  TransferPlan local_dest;
  auto plan_local_dest = [&](bool renamed) -> std::optional<int> {
    try {
      local_dest = renamed ? plan_renamed_file(cmd.destination, cmd.sync.dry_run)
                           : plan_transfer({}, cmd.destination, cmd.sync.dry_run, cmd.mkpath);
    } catch (const PlanError& e) {
      std::fprintf(stderr, "%s\n", e.message.c_str());
      return e.exit_code;
    }
    return std::nullopt;
  };
  if (plan.direction == control::Direction::pull && single_file_name.empty()) {
    if (auto code = plan_local_dest(false)) return *code;
  }

  std::optional<control::SshSession> session;
  try {
    session.emplace(control::SshSession::connect(target, ssh_options));
  } catch (const control::SshError& e) {
    std::fprintf(stderr, "arsync: %s\n", e.what());
    return kExitSsh;
  }
  std::string command = cmd.helper_path + " --server";
  if (!cmd.quic_ports.empty()) command += " --quic-port " + cmd.quic_ports;
  control::SshExecChannel channel = session->exec(command);
  StderrRelay relay(channel, plan.remote.host);
  control::FrameReader reader(channel);
  dataplane::RateLimitedStream paced(channel, cmd.bwlimit);  // --bwlimit over SSH
  control::FrameWriter writer(paced);

  engine::Report report(cmd.output);
  auto start_time = std::chrono::steady_clock::now();
  std::vector<std::string> shared;  // capabilities both sides have
  std::optional<QuicInitSent> early_quic;
  try {
    control::send_control(writer, control::make_hello());
    early_quic = send_quic_init_early(cmd, *session, writer);
    shared = control::accept_hello(control::receive_control(reader, "hello-ack"), "hello-ack");
  } catch (const std::exception& e) {
    relay.stop();
    auto status = channel.exit_status();
    if (status && *status == kExitHelperMissing) {
      std::fprintf(stderr, "arsync: %s not found on %s (see --helper)\n", cmd.helper_path.c_str(),
                   plan.remote.host.c_str());
      return kExitHelperMissing;
    }
    std::fprintf(stderr, "arsync: %s: %s\n", plan.remote.host.c_str(), e.what());
    return kExitProtocol;
  }
  QuicLink quic;
  if (auto code = choose_transport(cmd, plan.remote.host, shared, *session, writer, reader,
                                   early_quic, quic)) {
    return *code;
  }

  bool renamed = false;
  try {
    control::SyncStart start;
    start.direction = plan.direction;
    start.paths = plan.remote_paths;
    start.options = cmd.sync;
    start.output = cmd.output;
    start.single_file_name = single_file_name;
    start.bwlimit = cmd.bwlimit;
    control::send_control(writer, control::make_sync_start(start));
    renamed = control::parse_sync_ready(control::receive_control(reader, "sync_ready"));
    if (renamed && single_file_name.empty()) {
      throw control::ProtocolError("the helper renamed a file nobody asked to rename");
    }
  } catch (const control::PeerError& e) {
    std::fprintf(stderr, "arsync: %s refused the transfer: %s\n", plan.remote.host.c_str(),
                 e.what());
    return e.exit_code() > 0 ? e.exit_code() : engine::kExitStartClient;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arsync: %s refused the transfer: %s\n", plan.remote.host.c_str(),
                 e.what());
    return engine::kExitStartClient;
  }
  if (plan.direction == control::Direction::pull && !single_file_name.empty()) {
    if (auto code = plan_local_dest(renamed)) return *code;
  }

  HelperOutput helper_output(plan.remote.host);
  const control::PeerMessages peer = helper_output.handlers();
  const bool push = plan.direction == control::Direction::push;
  std::optional<ProgressMeter> progress;
  if (cmd.progress && !cmd.output.quiet) {
    progress.emplace(stdout, [&]() -> ProgressReading {
      if (push) return helper_output.landed();
      return {report.stats().files_done, report.stats().bytes_done};
    });
  }
  // Over QUIC the data frames travel on one stream of ours, while the helper's lines,
  // progress and completion keep coming over SSH: read those on a thread of their own.
  std::optional<dataplane::QuicByteStream> quic_stream;
  std::optional<control::FrameWriter> quic_writer;
  std::optional<nlohmann::json> completion;
  std::string completion_error;
  auto receive_completion = [&] {
    try {
      completion = control::receive_control(reader, "sync_complete", peer);
    } catch (const std::exception& e) {
      completion_error = e.what();
      // The helper is gone or gave up: its end of the data stream will not come, so end
      // ours now rather than at the QUIC idle timeout.
      if (quic.connection) quic.connection->abort();
    }
  };
  std::thread completion_thread;
  std::string protocol_error;
  if (quic.connection) {
    try {
      quic_stream.emplace(*quic.connection, quic.connection->open_stream());
      quic_stream->write_all(control::kDataStreamPreamble, sizeof control::kDataStreamPreamble - 1);
      quic_writer.emplace(*quic_stream);
    } catch (const std::exception& e) {
      protocol_error = std::string("QUIC data stream: ") + e.what();
    }
    completion_thread = std::thread(receive_completion);
  }
  control::ByteStream& data_in =
      quic_stream ? static_cast<control::ByteStream&>(*quic_stream) : channel;
  control::FrameWriter& data_out = quic_writer ? *quic_writer : writer;
  const control::PeerMessages data_peer = quic.connection ? control::PeerMessages{} : peer;
  uint64_t file_streams = 0;
  if (protocol_error.empty() && push) {
    std::vector<fsio::SourceSpec> sources;
    for (const auto& p : plan.local_paths) sources.push_back({p, {}});
    if (renamed) sources.front().rename_top = single_file_name;
    dataplane::StreamSenderChannel data(data_in, data_out, data_peer,
                                        content_streams(quic.connection.get(), cmd.streams));
    engine::run_sender(sources, cmd.sync, report, data);
    protocol_error = data.error();
    file_streams = data.file_streams();
  } else if (protocol_error.empty()) {
    dataplane::StreamReceiverChannel data(data_in, data_out, data_peer,
                                          content_streams(quic.connection.get(), cmd.streams));
    engine::run_receiver(engine::Destination{local_dest.dest_fd.get(), local_dest.dest_created},
                         cmd.sync, report, data);
    protocol_error = data.error();
    file_streams = data.file_streams();
  }
  if (quic_writer && protocol_error.empty()) {
    try {
      quic_writer->close();
    } catch (const std::exception& e) {
      protocol_error = e.what();
    }
  }
  if (quic.connection) {
    // A failed data phase: abandoning the connection ends the helper's, and so the session.
    if (!protocol_error.empty()) quic.connection->abort();
    completion_thread.join();
  } else if (protocol_error.empty()) {
    receive_completion();
  }
  if (protocol_error.empty() && !completion) protocol_error = completion_error;
  int remote_code = 0;
  if (protocol_error.empty()) {
    try {
      remote_code = control::parse_sync_complete(*completion, report.stats());
      control::send_control(writer, control::make_simple("ack_complete"));
      channel.close_write();
    } catch (const std::exception& e) {
      protocol_error = e.what();
    }
  }
  if (quic.connection) {
    try {
      // sync_complete said the helper has everything: nothing to wait for.
      quic.connection->close_now();
    } catch (const std::exception& e) {
      // Everything the session needed has arrived; a close that fails changes nothing.
      if (protocol_error.empty() && cmd.output.verbose > 0) {
        std::fprintf(stderr, "arsync: closing the QUIC connection: %s\n", e.what());
      }
    }
  }
  relay.stop();
  if (progress) progress->finish();
  if (!protocol_error.empty()) {
    std::fprintf(stderr, "arsync: connection to %s failed: %s\n", plan.remote.host.c_str(),
                 protocol_error.c_str());
    return kExitProtocol;
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  std::fflush(stdout);
  print_summary(stdout, report, elapsed, cmd.sync.dry_run);
  if (cmd.output.stats) {
    if (quic.connection) {
      std::printf("Data transport: QUIC, UDP %s, %llu file streams\n", quic.endpoint.c_str(),
                  static_cast<unsigned long long>(file_streams));
    } else {
      std::printf("Data transport: SSH channel\n");
    }
  }
  return worse(report.exit_code(), remote_code);
}

}  // namespace arsync::cli
