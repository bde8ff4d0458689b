// The client's end of setting up the QUIC data plane, before sync_start: a fresh key goes to
// the helper over SSH (quic_init), the helper answers with a UDP port (quic_ready), and the
// client connects there with the key. Whatever the outcome, the client then says which
// transport carries the data (see control/quic_messages.h). quic_init may go right behind
// hello, before hello-ack is back: one round trip less.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "arsync/cli/command_line.h"
#include "control/frame.h"
#include "dataplane/quic_connection.h"
#include "dataplane/quic_psk.h"

namespace arsync::cli {

struct QuicLink {
  std::unique_ptr<dataplane::QuicConnection> connection;  // null: the data stays on SSH
  std::string endpoint;                                   // "ADDRESS port N" when connected
  std::string why_not;                                    // when not
};

// The data plane's options from --cc and --bwlimit (the rest are the defaults).
dataplane::QuicOptions quic_options(const CommandLine& cmd);

// quic_init sent, quic_ready not read yet.
struct QuicInitSent {
  dataplane::PskKey key;
  std::chrono::steady_clock::time_point sent;
  std::optional<std::chrono::microseconds> ssh_rtt;
};

// Sends quic_init with a fresh key, --cc and --bwlimit (which the helper applies to its
// end too) and `ssh_rtt`, the SSH connection's TCP round-trip time if known.
QuicInitSent send_quic_init(control::FrameWriter& writer, const CommandLine& cmd,
                            std::optional<std::chrono::microseconds> ssh_rtt);

// Reads quic_ready and connects to `server_address` (the SSH server's own address) with
// quic_options(cmd) and the smaller of ssh_rtt and the quic_init round trip as the first
// RTT estimate. Throws for SSH channel or protocol failures; a QUIC failure is a why_not.
QuicLink finish_quic_link(control::FrameReader& reader, const QuicInitSent& init,
                          const std::string& server_address, const CommandLine& cmd);

}  // namespace arsync::cli
