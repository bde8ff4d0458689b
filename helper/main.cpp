// arsync-helper: the remote side of an arsync session, started by sshd, either as the
// command the client asked for or as a ForceCommand from authorized_keys.
#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "control/byte_stream.h"
#include "helper/confinement.h"
#include "helper/server.h"

int main(int argc, char** argv) {
  using namespace arsync::helper;
  std::setlocale(LC_CTYPE, "");
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "--version") {
    std::printf("arsync-helper %s\n", ARSYNC_VERSION);
    return 0;
  }
  Confinement confinement;
  try {
    Confinement forced = parse_flags(args);
    const char* original = std::getenv("SSH_ORIGINAL_COMMAND");
    confinement = effective_confinement(
        forced, original ? std::optional<std::string>(original) : std::nullopt);
  } catch (const RefusedError& e) {
    std::fprintf(stderr, "arsync-helper: %s\n", e.what());
    return 1;
  }
  if (!confinement.server) {
    std::fprintf(stderr,
                 "arsync-helper: this program is started by arsync over SSH "
                 "(arsync-helper --server)\n");
    return 1;
  }
  arsync::control::FdStream stream(0, 1, false);
  try {
    return serve_session(stream, confinement, 0);
  } catch (const std::exception& e) {
    // The client went away or broke the protocol mid-session.
    std::fprintf(stderr, "arsync-helper: %s\n", e.what());
    return 12;
  }
}
