#include "helper/quic_endpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "control/words.h"
#include "dataplane/quic_error.h"
#include "dataplane/quic_listener.h"
#include "dataplane/quic_psk.h"
#include "dataplane/rate_limit.h"
#include "dataplane/socket_address.h"

namespace arsync::helper {
namespace {

// Longer than the client's own handshake timeout, so that a client that gives up has
// already said "transport ssh" when this wait ends.
constexpr auto kAcceptSlack = std::chrono::milliseconds(1000);

// The server address of SSH_CONNECTION ("client port server port"); "" if there is none.
std::string ssh_server_address() {
  const char* value = std::getenv("SSH_CONNECTION");
  if (value == nullptr) return {};
  std::vector<std::string> words = control::split_shell_words(value);
  return words.size() == 4 ? words[2] : std::string();
}

}  // namespace

std::unique_ptr<dataplane::QuicConnection> answer_quic_init(const nlohmann::json& init,
                                                            const Confinement& confinement,
                                                            control::FrameWriter& writer,
                                                            std::chrono::nanoseconds round_trip) {
  const control::QuicInit request = control::parse_quic_init(init);
  const std::optional<dataplane::PskKey> key = dataplane::psk_from_hex(request.key_hex);
  if (!key) throw control::ProtocolError("quic_init: key must be 64 hex digits");
  dataplane::QuicOptions options;
  dataplane::apply_tuning_from_environment(options);
  if (!request.congestion_control.empty()) {
    auto cc = dataplane::parse_congestion_control(request.congestion_control);
    if (!cc) {
      throw control::ProtocolError("quic_init: unknown congestion controller \"" +
                                   request.congestion_control + "\"");
    }
    options.congestion_control = *cc;
  }
  if (request.bwlimit > 0 && request.bwlimit < dataplane::kMinRate)
    throw control::ProtocolError("quic_init: bwlimit below 512 bytes per second");
  options.max_send_rate = request.bwlimit;
  // The client's TCP estimate, when it sent one, is free of retransmissions and start-up;
  // and the time since hello-ack is no round trip when quic_init came right behind hello
  // (the client sends it early only with an estimate).
  if (request.rtt_us > 0) round_trip = std::chrono::microseconds(request.rtt_us);
  options.initial_rtt = dataplane::initial_rtt_from(round_trip);
  auto unavailable = [&](const std::string& reason) {
    control::send_control(writer, control::make_quic_ready({0, reason}));
    return nullptr;
  };
  if (confinement.no_quic) return unavailable("this helper is configured with --no-quic");
  const std::string address = ssh_server_address();
  if (address.empty()) return unavailable("no SSH_CONNECTION to take the server address from");
  dataplane::PortRange ports{0, 0};
  if (!confinement.quic_ports.empty()) ports = *dataplane::parse_port_range(confinement.quic_ports);

  std::optional<dataplane::QuicListener> listener;
  try {
    listener.emplace(address, ports, *key, options);
  } catch (const dataplane::QuicError& e) {
    return unavailable(std::string("cannot listen for QUIC: ") + e.what());
  }
  control::send_control(writer, control::make_quic_ready({listener->port(), {}}));
  try {
    return listener->accept(options.handshake_timeout + kAcceptSlack);
  } catch (const dataplane::QuicError& e) {
    std::fprintf(stderr, "arsync-helper: no QUIC client: %s\n", e.what());
    return nullptr;
  }
}

}  // namespace arsync::helper
