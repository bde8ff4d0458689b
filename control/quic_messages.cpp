#include "control/quic_messages.h"

#include "control/session_messages.h"

namespace arsync::control {

using nlohmann::json;

namespace {

constexpr size_t kKeyHexDigits = 64;
constexpr size_t kMaxReason = 4096;
constexpr size_t kMaxCcName = 16;
constexpr uint64_t kMaxRttMicroseconds = 10'000'000;
constexpr uint64_t kMaxBwlimit = uint64_t{1} << 50;  // dataplane::kMaxRate

const json& typed_field(const json& message, const char* name, json::value_t type) {
  auto it = message.find(name);
  if (it == message.end()) throw ProtocolError(std::string("missing field \"") + name + "\"");
  if (it->type() != type) {
    throw ProtocolError(std::string("field \"") + name + "\" has the wrong type");
  }
  return *it;
}

}  // namespace

json make_quic_init(const QuicInit& init) {
  json message = {{"type", "quic_init"}, {"key", init.key_hex}};
  if (!init.congestion_control.empty()) message["cc"] = init.congestion_control;
  if (init.bwlimit > 0) message["bwlimit"] = init.bwlimit;
  if (init.rtt_us > 0) message["rtt_us"] = init.rtt_us;
  return message;
}

QuicInit parse_quic_init(const json& message) {
  QuicInit init;
  init.key_hex = typed_field(message, "key", json::value_t::string).get<std::string>();
  if (init.key_hex.size() != kKeyHexDigits ||
      init.key_hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
    throw ProtocolError("quic_init: key must be 64 hex digits");
  }
  if (message.contains("cc")) {
    init.congestion_control = typed_field(message, "cc", json::value_t::string).get<std::string>();
    if (init.congestion_control.empty() || init.congestion_control.size() > kMaxCcName)
      throw ProtocolError("quic_init: cc must be a congestion controller's name");
  }
  if (message.contains("bwlimit")) {
    init.bwlimit = typed_field(message, "bwlimit", json::value_t::number_unsigned).get<uint64_t>();
    if (init.bwlimit > kMaxBwlimit) throw ProtocolError("quic_init: bwlimit out of range");
  }
  if (message.contains("rtt_us")) {
    init.rtt_us = typed_field(message, "rtt_us", json::value_t::number_unsigned).get<uint64_t>();
    if (init.rtt_us > kMaxRttMicroseconds) throw ProtocolError("quic_init: rtt_us out of range");
  }
  return init;
}

json make_quic_ready(const QuicReady& ready) {
  if (ready.port == 0)
    return {{"type", "quic_ready"}, {"reason", ready.reason.substr(0, kMaxReason)}};
  return {{"type", "quic_ready"}, {"port", ready.port}};
}

QuicReady parse_quic_ready(const json& message) {
  QuicReady ready;
  if (message.contains("port")) {
    const uint64_t port =
        typed_field(message, "port", json::value_t::number_unsigned).get<uint64_t>();
    if (port == 0 || port > 65535) throw ProtocolError("quic_ready: port out of range");
    ready.port = static_cast<uint16_t>(port);
    return ready;
  }
  ready.reason = typed_field(message, "reason", json::value_t::string).get<std::string>();
  if (ready.reason.size() > kMaxReason) throw ProtocolError("quic_ready: reason too long");
  return ready;
}

json make_transport(const TransportChoice& choice) {
  json message = {{"type", "transport"},
                  {"name", choice.transport == DataTransport::quic ? "quic" : "ssh"}};
  if (choice.streams != 0) message["streams"] = choice.streams;
  return message;
}

TransportChoice parse_transport(const json& message) {
  TransportChoice choice;
  std::string name = typed_field(message, "name", json::value_t::string).get<std::string>();
  if (name == "quic") {
    choice.transport = DataTransport::quic;
  } else if (name != "ssh") {
    throw ProtocolError("transport: unknown name \"" + name.substr(0, 64) + "\"");
  }
  if (message.contains("streams")) {
    const json& streams = message["streams"];
    if (!streams.is_number_unsigned() || streams.get<uint64_t>() < 1 ||
        streams.get<uint64_t>() > kMaxFileStreams) {
      throw ProtocolError("transport: streams must be 1 to " + std::to_string(kMaxFileStreams));
    }
    choice.streams = streams.get<uint32_t>();
  }
  return choice;
}

}  // namespace arsync::control
