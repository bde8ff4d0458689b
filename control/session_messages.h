// The JSON control messages of an arsync session over SSH, and their strict parsing: a
// message from the peer is untrusted, so every field is type-checked and bounded.
//
//   client -> helper: hello        {type, protocol, capabilities[]}
//   helper -> client: hello-ack    {type, protocol, capabilities[]}   (the intersection)
//   client -> helper: sync_start   {type, direction, paths[], options{}, filters[]}
//   helper -> client: sync_ready   {type}            or  error {type, message, exit_code}
//   ... data-plane frames, and during them:
//   helper -> client: progress     {type, files, bytes}
//   helper -> client: error        {type, path, message, retry}   (one file's problem)
//   helper -> client: sync_complete {type, exit_code}
//   client -> helper: ack_complete  {type}
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "arsync/engine/sync_options.h"
#include "arsync/engine/transfer_stats.h"
#include "control/frame.h"

namespace arsync::control {

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxControlMessage = 1 << 20;
inline constexpr size_t kMaxPaths = 1024;

// The peer said something that is not a valid message here: the session ends with it.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The peer's own `error` message: it could not go on, for the reason and with the exit code
// it gave (0 if it gave none that fits 1-255).
class PeerError : public ProtocolError {
 public:
  PeerError(const std::string& message, int exit_code)
      : ProtocolError(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// What this build can do; the session uses the intersection of both sides' lists.
std::vector<std::string> local_capabilities();

enum class Direction { push, pull };  // push: the helper receives; pull: it sends

struct SyncStart {
  Direction direction = Direction::push;
  std::vector<std::string> paths;  // push: {destination}; pull: the sources
  engine::SyncOptions options;     // filters rebuilt from their rule texts
  engine::OutputOptions output;    // what the user wants to see of the helper's side
  // One file copied to a new name, as with cp: when the one source is not a directory and
  // the destination not an existing one, the file lands under this leaf name. In a push the
  // helper makes the destination's parent the root (the client renames as it sends); in a
  // pull the helper names its one source so. Empty: no renaming.
  std::string single_file_name;
  // --bwlimit in bytes per second (0: none): the helper paces what it writes on the SSH
  // channel to it (the QUIC data plane takes it from quic_init). At most 2^50.
  uint64_t bwlimit = 0;
};

nlohmann::json make_hello();
// Checks the peer's hello (or hello-ack); returns the shared capabilities.
std::vector<std::string> accept_hello(const nlohmann::json& message, const char* expected_type);
nlohmann::json make_hello_ack(const std::vector<std::string>& shared);

nlohmann::json make_sync_start(const SyncStart& start);
SyncStart parse_sync_start(const nlohmann::json& message);

// sync_ready says whether single_file_name applied.
nlohmann::json make_sync_ready(bool single_file);
bool parse_sync_ready(const nlohmann::json& message);

nlohmann::json make_error(const std::string& message, int exit_code);
nlohmann::json make_simple(const char* type);  // ack_complete
// The helper's exit code and its side's counters, which the client adds to its own (each
// side counts different things: the sender what it listed and sent, the receiver what it
// created, deleted and received).
nlohmann::json make_sync_complete(int exit_code, const engine::TransferStats& stats);
int parse_sync_complete(const nlohmann::json& message, engine::TransferStats& add_to);

// The data phase's control messages (helper -> client).
// What the helper's side has done so far: a push counts the files and bytes that landed
// (verified and renamed into place), a pull those sent.
struct Progress {
  uint64_t files = 0;
  uint64_t bytes = 0;
};
// One file's problem, worded for the user; `retry`: it is being fetched again.
struct FileProblem {
  std::string path;  // escaped as the user sees names (engine::escape_name)
  std::string message;
  bool retry = false;
};
inline constexpr size_t kMaxProblemText = 64 * 1024;
nlohmann::json make_progress(const Progress& progress);
nlohmann::json make_file_problem(const FileProblem& problem);
// Parses one control frame's payload received during the data phase; ProtocolError for
// anything but a well-formed progress or per-file error.
std::variant<Progress, FileProblem> parse_data_phase_message(std::string_view text);

// What the peer says beside the data, from the data phase until sync_complete: report lines
// (log frames) and control messages (progress, per-file errors, as JSON text). A handler
// throws for what it does not accept, and the session fails with that reason. Without
// on_control, a control message there is a protocol error; without on_log, lines are dropped.
struct PeerMessages {
  std::function<void(bool is_error, std::string_view line)> on_log;
  std::function<void(std::string_view json_text)> on_control;
};

// Hands a log frame, or a control frame when there is on_control, to `peer`; false for any
// other frame. Throws ProtocolError for a malformed log frame.
bool dispatch_peer_message(const Frame& frame, const PeerMessages& peer);

// One control frame out / in. receive_control throws ProtocolError for anything but a
// control frame holding a JSON object with a string "type", and for an "error" message
// (whose text it carries).
void send_control(FrameWriter& writer, const nlohmann::json& message);
// Queued without waiting for it to be written (messages that no answer depends on).
void post_control(FrameWriter& writer, const nlohmann::json& message);
nlohmann::json receive_control(FrameReader& reader, const char* expected_type);
// The next control message, whatever its type (a string "type" is checked for).
nlohmann::json receive_any_control(FrameReader& reader);
// The same, passing the peer's log frames and other control messages to `interim` first.
nlohmann::json receive_control(FrameReader& reader, const char* expected_type,
                               const PeerMessages& interim);

}  // namespace arsync::control
