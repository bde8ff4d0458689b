// A real OpenSSH server on 127.0.0.1 for tests, with throwaway keys and its own config, port,
// authorized_keys and known_hosts in a temporary directory. Needs root (sshd's privilege
// separation) and /usr/sbin/sshd: check unavailable_reason() first and skip without them.
//
// sshd runs in the foreground (-D) as a child of the thread that made the fixture and gets
// SIGTERM when that thread ends, so even a test killed on timeout leaves no sshd running.
// The fixture makes this process a child subreaper (PR_SET_CHILD_SUBREAPER) so that it can
// reap sshd's connection processes too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace arsync::sshtest {

class SshdFixture {
 public:
  // Why this machine cannot run the fixture, or nullopt.
  static std::optional<std::string> unavailable_reason();

  // Starts sshd. The forced key's authorized_keys line runs `forced_command` (through the
  // user's shell, with SSH_ORIGINAL_COMMAND set to what the client asked for) whatever the
  // client asks. `extra_config` is appended to sshd_config (e.g. "RekeyLimit 1M\n"). Throws
  // std::runtime_error, with sshd's log, if sshd does not come up.
  explicit SshdFixture(const std::string& forced_command, const std::string& extra_config = "");
  // Stops exactly the sshd it started (the PID in its PidFile) and removes the directory.
  ~SshdFixture();
  SshdFixture(const SshdFixture&) = delete;
  SshdFixture& operator=(const SshdFixture&) = delete;

  const std::string& host() const { return host_; }  // "127.0.0.1"
  uint16_t port() const { return port_; }
  // Private key files; the public keys are next to them with ".pub" appended.
  std::string plain_key_path() const { return dir_ + "/plain_key"; }
  std::string forced_key_path() const { return dir_ + "/forced_key"; }
  std::string stranger_key_path() const { return dir_ + "/stranger_key"; }  // not authorized
  // known_hosts with the server's key for [127.0.0.1]:PORT.
  std::string known_hosts_path() const { return dir_ + "/known_hosts"; }
  // The server's public key ("ssh-ed25519 AAAA...") and its "SHA256:..." fingerprint.
  const std::string& host_public_key() const { return host_public_key_; }
  const std::string& host_key_fingerprint() const { return host_key_fingerprint_; }
  // The temporary directory: tests may put their own files here.
  const std::string& dir() const { return dir_; }
  // What sshd logged so far (LogLevel VERBOSE).
  std::string log_text() const;

 private:
  void write_files(const std::string& forced_command);
  bool start_sshd();  // false if the port was taken meanwhile
  void stop_sshd();

  std::string host_ = "127.0.0.1";
  std::string extra_config_;
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string host_public_key_;
  std::string host_key_fingerprint_;
};

}  // namespace arsync::sshtest
