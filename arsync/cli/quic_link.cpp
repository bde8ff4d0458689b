#include "arsync/cli/quic_link.h"

#include <algorithm>
#include <chrono>

#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_psk.h"

namespace arsync::cli {

dataplane::QuicOptions quic_options(const CommandLine& cmd) {
  dataplane::QuicOptions options;
  if (cmd.congestion_control) options.congestion_control = *cmd.congestion_control;
  options.max_send_rate = cmd.bwlimit;
  dataplane::apply_tuning_from_environment(options);
  return options;
}

QuicInitSent send_quic_init(control::FrameWriter& writer, const CommandLine& cmd,
                            std::optional<std::chrono::microseconds> ssh_rtt) {
  constexpr std::chrono::microseconds kMaxHint{10'000'000};
  QuicInitSent sent{dataplane::generate_psk_key(), {}, ssh_rtt};
  control::QuicInit init;
  init.key_hex = dataplane::psk_to_hex(sent.key);
  if (cmd.congestion_control) {
    init.congestion_control = dataplane::congestion_control_name(*cmd.congestion_control);
  }
  init.bwlimit = cmd.bwlimit;
  if (ssh_rtt) init.rtt_us = static_cast<uint64_t>(std::min(*ssh_rtt, kMaxHint).count());
  sent.sent = std::chrono::steady_clock::now();
  control::send_control(writer, control::make_quic_init(init));
  return sent;
}

QuicLink finish_quic_link(control::FrameReader& reader, const QuicInitSent& init,
                          const std::string& server_address, const CommandLine& cmd) {
  QuicLink link;
  const control::QuicReady ready =
      control::parse_quic_ready(control::receive_control(reader, "quic_ready"));
  // That exchange was one round trip, unless TCP had to retransmit (the kernel's estimate
  // knows better then): the handshake's first probe timeouts start from it.
  std::chrono::nanoseconds round_trip = std::chrono::steady_clock::now() - init.sent;
  if (init.ssh_rtt) round_trip = std::min<std::chrono::nanoseconds>(round_trip, *init.ssh_rtt);
  dataplane::QuicOptions options = quic_options(cmd);
  options.initial_rtt = dataplane::initial_rtt_from(round_trip);
  if (ready.port == 0) {
    link.why_not = "the helper cannot offer QUIC: " + ready.reason;
    return link;
  }
  try {
    link.connection =
        dataplane::QuicConnection::connect(server_address, ready.port, init.key, options);
    link.endpoint = server_address + " port " + std::to_string(ready.port);
  } catch (const dataplane::QuicError& e) {
    link.why_not =
        "UDP " + server_address + " port " + std::to_string(ready.port) + ": " + e.what();
  }
  return link;
}

}  // namespace arsync::cli
