// The control messages that set up the QUIC data plane, between hello-ack and sync_start:
//
//   client -> helper: quic_init  {type, key}        key: the session's 32-byte PSK, hex
//   helper -> client: quic_ready {type, port}       or {type, reason}: no QUIC here
//   client -> helper: transport  {type, name[, streams]}
//                                 name: "quic" (the handshake completed) or "ssh"; streams:
//                                 file streams a sending helper may have in flight (1-1000)
//
// A client that sends quic_init always sends transport after quic_ready, so that both sides
// agree on where the data goes before sync_start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace arsync::control {

inline constexpr const char* kQuicCapability = "quic-v1";
// The most file streams in flight that --streams allows.
inline constexpr uint32_t kMaxFileStreams = 1000;
// The first bytes the client writes on the QUIC stream that carries the data frames (QUIC
// makes a stream known to the peer only once something is sent on it).
inline constexpr char kDataStreamPreamble[] = "ARSD";

nlohmann::json make_quic_init(const std::string& key_hex);
// The key, checked to be 64 hex digits; ProtocolError otherwise.
std::string parse_quic_init(const nlohmann::json& message);

struct QuicReady {
  uint16_t port = 0;   // 0: unavailable
  std::string reason;  // why not, when port is 0
};
nlohmann::json make_quic_ready(const QuicReady& ready);
QuicReady parse_quic_ready(const nlohmann::json& message);

enum class DataTransport { ssh, quic };
struct TransportChoice {
  DataTransport transport = DataTransport::ssh;
  uint32_t streams = 0;  // 0: the sender's default
};
nlohmann::json make_transport(const TransportChoice& choice);
// ProtocolError for an unknown name or a stream count out of range.
TransportChoice parse_transport(const nlohmann::json& message);

}  // namespace arsync::control
