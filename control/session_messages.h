// The JSON control messages of an arsync session over SSH, and their strict parsing: a
// message from the peer is untrusted, so every field is type-checked and bounded.
//
//   client -> helper: hello        {type, protocol, capabilities[]}
//   helper -> client: hello-ack    {type, protocol, capabilities[]}   (the intersection)
//   client -> helper: sync_start   {type, direction, paths[], options{}, filters[]}
//   helper -> client: sync_ready   {type}            or  error {type, message, exit_code}
//   ... data-plane frames ...
//   helper -> client: sync_complete {type, exit_code}
//   client -> helper: ack_complete  {type}
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
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

// What this build can do; the session uses the intersection of both sides' lists.
std::vector<std::string> local_capabilities();

enum class Direction { push, pull };  // push: the helper receives; pull: it sends

struct SyncStart {
  Direction direction = Direction::push;
  std::vector<std::string> paths;  // push: {destination}; pull: the sources
  engine::SyncOptions options;     // filters rebuilt from their rule texts
  engine::OutputOptions output;    // what the user wants to see of the helper's side
};

nlohmann::json make_hello();
// Checks the peer's hello (or hello-ack); returns the shared capabilities.
std::vector<std::string> accept_hello(const nlohmann::json& message, const char* expected_type);
nlohmann::json make_hello_ack(const std::vector<std::string>& shared);

nlohmann::json make_sync_start(const SyncStart& start);
SyncStart parse_sync_start(const nlohmann::json& message);

nlohmann::json make_error(const std::string& message, int exit_code);
nlohmann::json make_simple(const char* type);  // sync_ready, ack_complete
// The helper's exit code and its side's counters, which the client adds to its own (each
// side counts different things: the sender what it listed and sent, the receiver what it
// created, deleted and received).
nlohmann::json make_sync_complete(int exit_code, const engine::TransferStats& stats);
int parse_sync_complete(const nlohmann::json& message, engine::TransferStats& add_to);

// One control frame out / in. receive_control throws ProtocolError for anything but a
// control frame holding a JSON object with a string "type", and for an "error" message
// (whose text it carries).
void send_control(FrameWriter& writer, const nlohmann::json& message);
nlohmann::json receive_control(FrameReader& reader, const char* expected_type);

}  // namespace arsync::control
