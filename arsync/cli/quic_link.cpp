#include "arsync/cli/quic_link.h"

#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_psk.h"

namespace arsync::cli {

QuicLink open_quic_link(control::FrameWriter& writer, control::FrameReader& reader,
                        const std::string& server_address) {
  QuicLink link;
  const dataplane::PskKey key = dataplane::generate_psk_key();
  control::send_control(writer, control::make_quic_init(dataplane::psk_to_hex(key)));
  const control::QuicReady ready =
      control::parse_quic_ready(control::receive_control(reader, "quic_ready"));
  if (ready.port == 0) {
    link.why_not = "the helper cannot offer QUIC: " + ready.reason;
    return link;
  }
  try {
    link.connection = dataplane::QuicConnection::connect(server_address, ready.port, key);
    link.endpoint = server_address + " port " + std::to_string(ready.port);
  } catch (const dataplane::QuicError& e) {
    link.why_not =
        "UDP " + server_address + " port " + std::to_string(ready.port) + ": " + e.what();
  }
  return link;
}

}  // namespace arsync::cli
