// The helper's side of a session: the control exchange on stdin/stdout, then the engine's
// sender (pull) or receiver (push) over the same stream or over QUIC.
#pragma once

#include "control/byte_stream.h"
#include "helper/confinement.h"

namespace arsync::helper {

// Returns the exit code the helper ends with (the client is told it in sync_complete).
// `hangup_fd` is where `stream` reads from: while the data travel over QUIC, its end of file
// means the client is gone.
int serve_session(control::ByteStream& stream, const Confinement& confinement, int hangup_fd);

}  // namespace arsync::helper
