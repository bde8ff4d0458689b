#include "control/session_messages.h"

#include <algorithm>

namespace arsync::control {

using nlohmann::json;

namespace {

const json& field(const json& message, const char* name, json::value_t type) {
  auto it = message.find(name);
  if (it == message.end()) throw ProtocolError(std::string("missing field \"") + name + "\"");
  if (it->type() != type &&
      !(type == json::value_t::number_integer && it->type() == json::value_t::number_unsigned)) {
    throw ProtocolError(std::string("field \"") + name + "\" has the wrong type");
  }
  return *it;
}

std::vector<std::string> string_list(const json& message, const char* name, size_t max_items) {
  const json& list = field(message, name, json::value_t::array);
  if (list.size() > max_items) throw ProtocolError(std::string("too many ") + name);
  std::vector<std::string> out;
  for (const auto& item : list) {
    if (!item.is_string()) throw ProtocolError(std::string(name) + " must be strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

// The option names on the wire, and where they live in SyncOptions.
struct OptionField {
  const char* name;
  bool engine::SyncOptions::*member;
};
constexpr OptionField kOptionFields[] = {
    {"recursive", &engine::SyncOptions::recursive},
    {"links", &engine::SyncOptions::links},
    {"perms", &engine::SyncOptions::perms},
    {"times", &engine::SyncOptions::times},
    {"group", &engine::SyncOptions::group},
    {"owner", &engine::SyncOptions::owner},
    {"devices", &engine::SyncOptions::devices},
    {"specials", &engine::SyncOptions::specials},
    {"hard_links", &engine::SyncOptions::hard_links},
    {"delete", &engine::SyncOptions::del},
    {"delete_excluded", &engine::SyncOptions::delete_excluded},
    {"checksum", &engine::SyncOptions::checksum},
    {"dry_run", &engine::SyncOptions::dry_run},
    {"whole_file", &engine::SyncOptions::whole_file},
    {"partial", &engine::SyncOptions::partial},
    {"inplace", &engine::SyncOptions::inplace},
};

struct StatField {
  const char* name;
  std::atomic<uint64_t> engine::TransferStats::*member;
};
constexpr StatField kStatFields[] = {
    {"files", &engine::TransferStats::files},
    {"regular_files", &engine::TransferStats::regular_files},
    {"dirs", &engine::TransferStats::dirs},
    {"symlinks", &engine::TransferStats::symlinks},
    {"devices", &engine::TransferStats::devices},
    {"specials", &engine::TransferStats::specials},
    {"created_files", &engine::TransferStats::created_files},
    {"created_regular", &engine::TransferStats::created_regular},
    {"created_dirs", &engine::TransferStats::created_dirs},
    {"created_symlinks", &engine::TransferStats::created_symlinks},
    {"created_devices", &engine::TransferStats::created_devices},
    {"created_specials", &engine::TransferStats::created_specials},
    {"deleted_files", &engine::TransferStats::deleted_files},
    {"deleted_regular", &engine::TransferStats::deleted_regular},
    {"deleted_dirs", &engine::TransferStats::deleted_dirs},
    {"deleted_symlinks", &engine::TransferStats::deleted_symlinks},
    {"deleted_devices", &engine::TransferStats::deleted_devices},
    {"deleted_specials", &engine::TransferStats::deleted_specials},
    {"regular_transferred", &engine::TransferStats::regular_transferred},
    {"total_size", &engine::TransferStats::total_size},
    {"transferred_size", &engine::TransferStats::transferred_size},
    {"literal_data", &engine::TransferStats::literal_data},
    {"matched_data", &engine::TransferStats::matched_data},
    {"file_list_size", &engine::TransferStats::file_list_size},
    {"bytes_sent", &engine::TransferStats::bytes_sent},
    {"bytes_received", &engine::TransferStats::bytes_received},
};

}  // namespace

std::vector<std::string> local_capabilities() {
  return {"delta-none", "hardlinks", "quic-v1", "xxh3-128"};
}

json make_hello() {
  return {
      {"type", "hello"}, {"protocol", kProtocolVersion}, {"capabilities", local_capabilities()}};
}

std::vector<std::string> accept_hello(const json& message, const char* expected_type) {
  int version = field(message, "protocol", json::value_t::number_integer).get<int>();
  if (version != kProtocolVersion) {
    throw ProtocolError("incompatible protocol: the peer speaks version " +
                        std::to_string(version) + ", this side speaks version " +
                        std::to_string(kProtocolVersion));
  }
  (void)expected_type;
  std::vector<std::string> theirs = string_list(message, "capabilities", 256);
  std::vector<std::string> shared;
  for (const auto& cap : local_capabilities()) {
    if (std::find(theirs.begin(), theirs.end(), cap) != theirs.end()) shared.push_back(cap);
  }
  return shared;
}

json make_hello_ack(const std::vector<std::string>& shared) {
  return {{"type", "hello-ack"}, {"protocol", kProtocolVersion}, {"capabilities", shared}};
}

json make_sync_start(const SyncStart& start) {
  json options = json::object();
  for (const auto& f : kOptionFields) options[f.name] = start.options.*f.member;
  if (!start.options.partial_dir.empty()) options["partial_dir"] = start.options.partial_dir;
  json message = {{"type", "sync_start"},
                  {"direction", start.direction == Direction::push ? "push" : "pull"},
                  {"paths", start.paths},
                  {"options", options},
                  {"filters", start.options.filters.rule_texts()},
                  {"output",
                   {{"verbose", start.output.verbose},
                    {"itemize", start.output.itemize},
                    {"quiet", start.output.quiet}}}};
  if (!start.single_file_name.empty()) message["single_file_name"] = start.single_file_name;
  if (start.bwlimit > 0) message["bwlimit"] = start.bwlimit;
  return message;
}

json make_sync_ready(bool single_file) {
  return {{"type", "sync_ready"}, {"single_file", single_file}};
}

bool parse_sync_ready(const json& message) {
  return field(message, "single_file", json::value_t::boolean).get<bool>();
}

SyncStart parse_sync_start(const json& message) {
  SyncStart start;
  std::string direction = field(message, "direction", json::value_t::string).get<std::string>();
  if (direction == "push") {
    start.direction = Direction::push;
  } else if (direction == "pull") {
    start.direction = Direction::pull;
  } else {
    throw ProtocolError("unknown direction \"" + direction + "\"");
  }
  start.paths = string_list(message, "paths", kMaxPaths);
  if (start.paths.empty()) throw ProtocolError("no paths");
  if (start.direction == Direction::push && start.paths.size() != 1)
    throw ProtocolError("a push names exactly one destination");
  const json& options = field(message, "options", json::value_t::object);
  for (const auto& f : kOptionFields) {
    auto it = options.find(f.name);
    if (it == options.end()) continue;
    if (!it->is_boolean())
      throw ProtocolError(std::string("option ") + f.name + " must be true or false");
    start.options.*f.member = it->get<bool>();
  }
  // A path from the peer: relative, without "." or ".." components, so that the partial
  // files stay beneath each file's own directory.
  if (auto it = options.find("partial_dir"); it != options.end()) {
    if (!it->is_string()) throw ProtocolError("option partial_dir must be a string");
    std::string dir = it->get<std::string>();
    if (std::string error = engine::check_partial_dir(dir, false); !error.empty())
      throw ProtocolError(error);
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    start.options.partial_dir = std::move(dir);
    start.options.partial = true;
  }
  if (start.options.inplace && !start.options.partial_dir.empty())
    throw ProtocolError("inplace and partial_dir cannot be used together");
  if (auto it = message.find("output"); it != message.end() && it->is_object()) {
    start.output.verbose = std::clamp(it->value("verbose", 0), 0, 9);
    start.output.itemize = std::clamp(it->value("itemize", 0), 0, 9);
    start.output.quiet = it->value("quiet", false);
  }
  for (const auto& rule : string_list(message, "filters", 65536)) {
    if (!rule.starts_with("+ ") && !rule.starts_with("- "))
      throw ProtocolError("filter rule must start with \"+ \" or \"- \"");
    start.options.filters.add(fsio::FilterRules::Kind::exclude, rule);
  }
  if (message.contains("single_file_name")) {
    start.single_file_name =
        field(message, "single_file_name", json::value_t::string).get<std::string>();
    const std::string& name = start.single_file_name;
    if (name.empty() || name.size() > 255 || name == "." || name == ".." ||
        name.find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
      throw ProtocolError("single_file_name must be one file name");
    }
    if (start.paths.size() != 1) throw ProtocolError("single_file_name needs exactly one path");
  }
  if (message.contains("bwlimit")) {
    start.bwlimit = field(message, "bwlimit", json::value_t::number_unsigned).get<uint64_t>();
    if (start.bwlimit > (uint64_t{1} << 50)) throw ProtocolError("bwlimit out of range");
  }
  return start;
}

json make_error(const std::string& message, int exit_code) {
  return {{"type", "error"}, {"message", message}, {"exit_code", exit_code}};
}

json make_simple(const char* type) {
  return {{"type", type}};
}

json make_sync_complete(int exit_code, const engine::TransferStats& stats) {
  json counters = json::object();
  for (const auto& f : kStatFields) counters[f.name] = (stats.*f.member).load();
  return {{"type", "sync_complete"}, {"exit_code", exit_code}, {"stats", counters}};
}

int parse_sync_complete(const json& message, engine::TransferStats& add_to) {
  int code = field(message, "exit_code", json::value_t::number_integer).get<int>();
  if (code < 0 || code > 255) throw ProtocolError("exit code out of range");
  const json& counters = field(message, "stats", json::value_t::object);
  for (const auto& f : kStatFields) {
    // Bytes sent and received are the client's own, as rsync reports them: the helper's
    // count the same data from the other end.
    if (f.member == &engine::TransferStats::bytes_sent ||
        f.member == &engine::TransferStats::bytes_received) {
      continue;
    }
    auto it = counters.find(f.name);
    if (it != counters.end() && it->is_number_unsigned()) (add_to.*f.member) += it->get<uint64_t>();
  }
  return code;
}

json make_progress(const Progress& progress) {
  return {{"type", "progress"}, {"files", progress.files}, {"bytes", progress.bytes}};
}

json make_file_problem(const FileProblem& problem) {
  return {{"type", "error"},
          {"path", problem.path.substr(0, kMaxProblemText)},
          {"message", problem.message.substr(0, kMaxProblemText)},
          {"retry", problem.retry}};
}

std::variant<Progress, FileProblem> parse_data_phase_message(std::string_view text) {
  if (text.size() > kMaxControlMessage) throw ProtocolError("control message too large");
  json message = json::parse(text.begin(), text.end(), nullptr, false);
  if (!message.is_object()) throw ProtocolError("control message is not a JSON object");
  std::string type = field(message, "type", json::value_t::string).get<std::string>();
  if (type == "progress") {
    Progress progress;
    progress.files = field(message, "files", json::value_t::number_unsigned).get<uint64_t>();
    progress.bytes = field(message, "bytes", json::value_t::number_unsigned).get<uint64_t>();
    return progress;
  }
  if (type == "error" && message.contains("path")) {
    FileProblem problem;
    problem.path = field(message, "path", json::value_t::string).get<std::string>();
    problem.message = field(message, "message", json::value_t::string).get<std::string>();
    problem.retry = field(message, "retry", json::value_t::boolean).get<bool>();
    if (problem.path.size() > kMaxProblemText || problem.message.size() > kMaxProblemText) {
      throw ProtocolError("per-file error message too long");
    }
    return problem;
  }
  if (type == "error") {
    throw ProtocolError(message.value("message", std::string("unspecified error")));
  }
  throw ProtocolError("unexpected \"" + type + "\" during the transfer");
}

namespace {

void queue_control(FrameWriter& writer, const std::string& text) {
  writer.write(FrameType::control, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

}  // namespace

void post_control(FrameWriter& writer, const json& message) {
  // Invalid UTF-8 (a name in a non-UTF-8 locale) is replaced rather than thrown on: these
  // messages are for the user to read.
  queue_control(writer, message.dump(-1, ' ', false, json::error_handler_t::replace));
}

void send_control(FrameWriter& writer, const json& message) {
  queue_control(writer, message.dump());
  // The session waits on the peer's answer next: the message must be out, and a stream that
  // failed must fail here.
  writer.flush();
}

bool dispatch_peer_message(const Frame& frame, const PeerMessages& peer) {
  if (frame.type == FrameType::log) {
    if (frame.payload.empty() || frame.payload[0] > 1) {
      throw ProtocolError("malformed log line from the peer");
    }
    if (peer.on_log) peer.on_log(frame.payload[0] == 1, frame.payload.text().substr(1));
    return true;
  }
  if (frame.type == FrameType::control && peer.on_control) {
    peer.on_control(frame.payload.text());
    return true;
  }
  return false;
}

json receive_any_control(FrameReader& reader) {
  auto frame = reader.next();
  if (!frame) throw ProtocolError("the peer closed the connection");
  if (frame->type != FrameType::control) throw ProtocolError("expected a control message");
  if (frame->payload.size() > kMaxControlMessage) throw ProtocolError("control message too large");
  json message = json::parse(frame->payload.begin(), frame->payload.end(), nullptr, false);
  if (!message.is_object()) throw ProtocolError("control message is not a JSON object");
  std::string type = field(message, "type", json::value_t::string).get<std::string>();
  if (type == "error") {
    throw PeerError(message.value("message", std::string("unspecified error")), 0);
  }
  return message;
}

json receive_control(FrameReader& reader, const char* expected_type) {
  return receive_control(reader, expected_type, PeerMessages{});
}

json receive_control(FrameReader& reader, const char* expected_type, const PeerMessages& interim) {
  for (;;) {
    auto frame = reader.next();
    if (!frame) {
      throw ProtocolError(std::string("the peer closed the connection (expected ") + expected_type +
                          ")");
    }
    if (frame->type == FrameType::log && dispatch_peer_message(*frame, interim)) continue;
    if (frame->type != FrameType::control) throw ProtocolError("expected a control message");
    if (frame->payload.size() > kMaxControlMessage) {
      throw ProtocolError("control message too large");
    }
    json message = json::parse(frame->payload.begin(), frame->payload.end(), nullptr, false);
    if (!message.is_object()) throw ProtocolError("control message is not a JSON object");
    std::string type = field(message, "type", json::value_t::string).get<std::string>();
    if (type == expected_type) return message;
    if (interim.on_control) {
      interim.on_control(frame->payload.text());  // throws for what does not belong here
      continue;
    }
    if (type == "error") {
      auto text = message.value("message", std::string("unspecified error"));
      int code = 0;
      if (auto it = message.find("exit_code"); it != message.end() && it->is_number_integer()) {
        code = it->get<int>();
        if (code < 1 || code > 255) code = 0;
      }
      throw PeerError(text, code);
    }
    throw ProtocolError("expected \"" + std::string(expected_type) + "\", got \"" + type + "\"");
  }
}

}  // namespace arsync::control
