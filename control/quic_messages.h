// The control messages that set up the QUIC data plane, between hello and sync_start:
//
//   client -> helper: quic_init  {type, key, [cc], [bwlimit], [rtt_us]}
//                                  key: the session's 32-byte PSK, hex; cc: the congestion
//                                  controller (--cc); bwlimit: bytes per second (--bwlimit);
//                                  rtt_us: the SSH connection's TCP round-trip time
//   helper -> client: quic_ready {type, port}       or {type, reason}: no QUIC here
//   client -> helper: transport  {type, name[, streams]}
//                                 name: "quic" (the handshake completed) or "ssh"; streams:
//                                 file streams a sending helper may have in flight (1-1000)
//
// quic_init may come right behind hello, before hello-ack (always with rtt_us then). A client
// that sends quic_init always sends transport after quic_ready, so that both sides
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

struct QuicInit {
  std::string key_hex;
  // --cc: "reno", "cubic", "bbr" or "bbr2"; empty for the helper's default. The helper
  // checks the name (dataplane::parse_congestion_control): anything else is a protocol error.
  std::string congestion_control;
  uint64_t bwlimit = 0;  // --bwlimit in bytes per second; 0: no limit
  // The client's kernel's smoothed RTT of the SSH connection in microseconds (0: unknown),
  // at most 10 s: the QUIC handshake's first estimate on both ends.
  uint64_t rtt_us = 0;
};
nlohmann::json make_quic_init(const QuicInit& init);
// The key checked to be 64 hex digits, cc a short string, bwlimit at most 2^50; ProtocolError
// otherwise.
QuicInit parse_quic_init(const nlohmann::json& message);

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
