// The helper's end of the QUIC data plane: answers the client's quic_init by listening on
// the address the SSH connection came in on, and accepts the client that holds the key.
#pragma once

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "control/frame.h"
#include "dataplane/quic_connection.h"
#include "helper/confinement.h"

namespace arsync::helper {

// Sends quic_ready (the port, or why there is none) and waits for the client's handshake.
// nullptr when QUIC is not available here or the client did not come (it then sends
// "transport ssh"). Throws ProtocolError for a malformed quic_init. `round_trip`: from
// hello-ack sent to quic_init received, the handshake's first estimate of the RTT.
std::unique_ptr<dataplane::QuicConnection> answer_quic_init(const nlohmann::json& init,
                                                            const Confinement& confinement,
                                                            control::FrameWriter& writer,
                                                            std::chrono::nanoseconds round_trip);

}  // namespace arsync::helper
