#include "arsync/cli/quic_link.h"

#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_psk.h"

namespace arsync::cli {

dataplane::QuicOptions quic_options(const CommandLine& cmd) {
  dataplane::QuicOptions options;
  if (cmd.congestion_control) options.congestion_control = *cmd.congestion_control;
  options.max_send_rate = cmd.bwlimit;
  return options;
}

QuicLink open_quic_link(control::FrameWriter& writer, control::FrameReader& reader,
                        const std::string& server_address, const CommandLine& cmd) {
  QuicLink link;
  const dataplane::PskKey key = dataplane::generate_psk_key();
  control::QuicInit init;
  init.key_hex = dataplane::psk_to_hex(key);
  if (cmd.congestion_control) {
    init.congestion_control = dataplane::congestion_control_name(*cmd.congestion_control);
  }
  init.bwlimit = cmd.bwlimit;
  control::send_control(writer, control::make_quic_init(init));
  const control::QuicReady ready =
      control::parse_quic_ready(control::receive_control(reader, "quic_ready"));
  if (ready.port == 0) {
    link.why_not = "the helper cannot offer QUIC: " + ready.reason;
    return link;
  }
  try {
    link.connection =
        dataplane::QuicConnection::connect(server_address, ready.port, key, quic_options(cmd));
    link.endpoint = server_address + " port " + std::to_string(ready.port);
  } catch (const dataplane::QuicError& e) {
    link.why_not =
        "UDP " + server_address + " port " + std::to_string(ready.port) + ": " + e.what();
  }
  return link;
}

}  // namespace arsync::cli
