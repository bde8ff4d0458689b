// arsync-helper: the remote side of an arsync session, started by sshd.
// Until the SSH control plane lands it only identifies itself, so that a client can tell a
// helper that exists from one that does not.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("arsync-helper %s\n", ARSYNC_VERSION);
      return 0;
    }
  }
  std::fprintf(stderr,
               "arsync-helper %s: the remote protocol is not available in this version; "
               "only --version is supported\n",
               ARSYNC_VERSION);
  return 1;
}
