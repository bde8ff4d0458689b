// Tunables of the QUIC data plane, shared by both ends of a connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace arsync::dataplane {

enum class CongestionControl { reno, cubic, bbr, bbr2 };

// "reno", "cubic", "bbr", "bbr2"; nullopt for anything else.
std::optional<CongestionControl> parse_congestion_control(std::string_view name);
std::string_view congestion_control_name(CongestionControl cc);

// The most bidirectional streams one side may have open at once: the 1000 file streams
// --streams allows, the control stream, and streams whose closing is still in transit.
inline constexpr uint32_t kMaxQuicStreams = 1024;

struct QuicOptions {
  // BBR2 moved the most bytes per second on loopback in every shape measured (one 1 GiB
  // stream, 8 streams, 1000 x 64 KiB), and on the emulated 50 ms links (1 Gbit/s and
  // 200 Mbit/s, 0% and 1% loss) it was never measurably slower than BBR and faster at
  // 1 Gbit/s with 1% loss; CUBIC and Reno collapse at 1% loss (dataplane/QUIC.md and
  // bench/README.md have the numbers). --cc overrides it on both ends.
  CongestionControl congestion_control = CongestionControl::bbr2;
  // Streams the peer may have open towards us at once, 1..kMaxQuicStreams. Each side opens
  // at most as many as the other side allows, and a closed stream gives its slot back.
  uint32_t max_streams = kMaxQuicStreams;
  // A handshake that has not completed by then fails (the caller falls back to SSH).
  std::chrono::milliseconds handshake_timeout{3000};
  // The round-trip time assumed before the first sample (ngtcp2's default, 333 ms, when 0).
  // The session sets it from a round trip over SSH: with 333 ms, a 3 s handshake has room for
  // two probe timeouts only, and at 20% loss each way too many handshakes failed.
  std::chrono::microseconds initial_rtt{0};
  // A connection that hears nothing from its peer for this long is dead.
  std::chrono::milliseconds idle_timeout{30000};
  // Receive windows. ngtcp2 doubles a window from its initial size while the application
  // drains it faster than two round trips (autotuning). Received data waits in memory until
  // the application reads it, so the connection window bounds the receiver's buffering.
  // Chosen by measurement (bench/README.md, "WAN: choosing the congestion controller and
  // the windows"): at 50 ms and 1% loss every loss holds back the data behind it until its
  // retransmission arrives, and with 1 MiB / 8 MiB initial windows growing to 16 / 32 MiB
  // (and 16 / 32 MiB send buffers) the sender sat at its 16 MiB stream send buffer or out
  // of connection credit most of the time: 7.25 s for 256 MiB at 1 Gbit/s against 5.31 s
  // with these (15.9 against 13.5 s at 200 Mbit/s, 4.3 against 4.0 s without loss).
  uint64_t stream_window = 16u << 20;
  uint64_t max_stream_window = 64u << 20;
  uint64_t connection_window = 32u << 20;
  uint64_t max_connection_window = 128u << 20;
  // Bytes the application may have written and the peer not yet acknowledged (ngtcp2 does
  // not copy stream data, so they stay in memory until then). A write beyond either limit
  // blocks: this is the sender's backpressure. As large as the windows they feed.
  size_t send_buffer = 128u << 20;
  size_t stream_send_buffer = 64u << 20;
  // Kernel socket buffers (SO_SNDBUF/SO_RCVBUF; forced beyond the sysctl limits when root).
  int socket_buffer = 8 << 20;
  // Segmentation offload: one sendmsg per batch of packets, one recvmsg per coalesced batch.
  // Off only for measuring what they bring.
  bool use_gso = true;
  bool use_gro = true;
  // --bwlimit: the most stream bytes per second this end sends (paced by a token bucket in
  // the sender, dataplane/rate_limit.h); 0 for no limit. ACKs and retransmissions are not
  // counted.
  uint64_t max_send_rate = 0;
};

// QuicOptions::initial_rtt from one round trip over the SSH channel (which may include a
// TCP retransmission or the peer's processing): within 1 ms .. 333 ms, ngtcp2's default.
std::chrono::microseconds initial_rtt_from(std::chrono::nanoseconds ssh_round_trip);

// For measurements only: the environment variable ARSYNC_QUIC_TUNE, a comma-separated list
// of NAME=BYTES (a K, M or G suffix allowed; NAME one of stream_window, max_stream_window,
// connection_window, max_connection_window, send_buffer, stream_send_buffer), overrides
// those options on the end it is set on (for the helper: `--helper 'env
// ARSYNC_QUIC_TUNE=... arsync-helper'`). A malformed list is reported on stderr and ignored.
void apply_tuning_from_environment(QuicOptions& options);
// The parser behind it; throws std::invalid_argument.
void apply_tuning(QuicOptions& options, std::string_view spec);

// Throws std::invalid_argument naming the first option out of range.
void validate(const QuicOptions& options);

}  // namespace arsync::dataplane
