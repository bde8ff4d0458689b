// What the helper may do for this connection: restrictions forced in authorized_keys
// (`command="arsync-helper --root DIR --write-only"`), narrowed further by the client's own
// request, never widened.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace arsync::helper {

class RefusedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Confinement {
  std::string root;  // empty: paths are taken as given (relative to the login directory)
  bool read_only = false;
  bool write_only = false;
  bool no_delete = false;
  bool server = false;     // --server: speak the protocol (the client always asks for it)
  bool no_quic = false;    // --no-quic: the data stays on the SSH channel
  std::string quic_ports;  // --quic-port N or N-M: where the QUIC data plane may listen
};

// Parses helper flags (--root DIR, --read-only, --write-only, --no-delete, --server,
// --no-quic, --quic-port N|N-M).
// Throws RefusedError naming anything else.
Confinement parse_flags(const std::vector<std::string>& args);

// The effective confinement: `forced` from argv; `original_command` is SSH_ORIGINAL_COMMAND
// when sshd ran us as a ForceCommand (nullopt otherwise). The client's request must be an
// arsync-helper command; it can add restrictions, and its --root must lie inside the forced
// one. A forced --quic-port wins over the client's.
Confinement effective_confinement(const Confinement& forced,
                                  const std::optional<std::string>& original_command);

// Maps a path from the client onto the file system: beneath `root` when there is one
// (refusing absolute paths, "..", and symlinks on the way), as given otherwise.
std::string resolve_path(const Confinement& confinement, const std::string& path);

}  // namespace arsync::helper
