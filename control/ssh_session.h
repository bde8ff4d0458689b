// The SSH client side of remote sync: log in with libssh, check the host key the way OpenSSH
// does, and run one remote command (arsync-helper) whose stdin and stdout carry the framed
// protocol. Also the two parsers that turn rsync's command line into an SSH target:
// `-e 'ssh -p PORT ...'` and `[user@]host:path`.
//
// Threads: libssh sessions are not thread-safe, so every libssh call on a session (and on its
// channels) runs under one mutex inside the session. Waiting for the network happens outside
// that mutex, so one thread may sit in read_some() while another calls write_all() on the same
// channel. Do not call read_some() on one channel from two threads at once (nor write_all()):
// the bytes would interleave arbitrarily.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/byte_stream.h"

namespace arsync::control {

// Every error is one line that names the host, ready for stderr.
class SshError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// No connection: DNS, TCP, key exchange, an unreadable -F file, or the connection broke later.
class SshConnectError : public SshError {
 public:
  using SshError::SshError;
};
// The host key differs from known_hosts, or it is unknown and may not be trusted here.
class SshHostKeyError : public SshError {
 public:
  using SshError::SshError;
};
// The server refused every key we had ("Permission denied (publickey)").
class SshAuthError : public SshError {
 public:
  using SshError::SshError;
};

// Where to log in: what `ssh [-l user] [-p port] [-i key] [-F config] host` names.
// Explicit fields win over ssh_config, as on ssh's command line.
struct SshTarget {
  std::string user;  // empty: ssh_config's User, else the local user name
  std::string host;
  uint16_t port = 0;                        // 0: ssh_config's Port, else 22
  std::vector<std::string> identity_files;  // -i: private key files, tried in order
  std::string config_file;  // -F: only this file; empty: ~/.ssh/config, /etc/ssh/ssh_config
};

// How to log in: what ssh's -o settings say.
struct SshOptions {
  std::string known_hosts_file;  // UserKnownHostsFile; empty: ~/.ssh/known_hosts
  // StrictHostKeyChecking=accept-new: record the key of a host known_hosts does not list
  // and proceed. A key that differs from a recorded one is always refused.
  bool accept_new_host_key = false;
  // Whether we may ask (about an unknown host key, for a key's passphrase) when stdin is a
  // terminal. False for BatchMode=yes and StrictHostKeyChecking=yes: refuse instead. Without
  // a terminal we never ask, so cron jobs fail instead of hanging.
  bool allow_prompt = true;
  // Replaces the terminal question about an unknown host key (tests, other front ends). Gets
  // OpenSSH's question, which names the host and the key's SHA256 fingerprint; returns
  // whether to trust the key. Called whenever allow_prompt is set, terminal or not.
  std::function<bool(const std::string& question)> confirm_host_key;
  bool use_agent = true;  // try the keys of ssh-agent ($SSH_AUTH_SOCK)
  // Without -i: try ~/.ssh/id_* and ssh_config's IdentityFile (libssh's publickey_auto,
  // which asks the agent first even when use_agent is false). With -i they are not used,
  // as with OpenSSH.
  bool use_default_identities = true;
  // Limits connecting, each authentication step, opening a channel, and any single
  // blocking send; a peer that goes silent for longer breaks the connection.
  std::chrono::seconds timeout{30};
};

namespace detail {
struct SessionCore;
struct ChannelState;
}  // namespace detail

class SshExecChannel;

// One logged-in SSH connection. Channels keep it alive, so it may be destroyed first.
class SshSession {
 public:
  // Connects, verifies the host key and authenticates (none, then agent, then keys).
  // Throws SshConnectError, SshHostKeyError or SshAuthError.
  static SshSession connect(const SshTarget& target, const SshOptions& options = {});

  SshSession(SshSession&&) noexcept;
  SshSession& operator=(SshSession&&) noexcept;
  ~SshSession();

  // Runs `command` on the server (through the user's shell, as `ssh host command` does).
  SshExecChannel exec(const std::string& command);

  // "user@host port N", as errors name it.
  const std::string& peer() const;
  // The negotiated cipher and key exchange, e.g. "aes128-gcm@openssh.com curve25519-sha256".
  std::string algorithms() const;
  // The numeric address of the server this session is connected to ("" through a
  // ProxyCommand or ProxyJump, where the socket leads elsewhere): where a data plane of the
  // same session can reach the same machine.
  std::string server_address() const;
  // The kernel's smoothed round-trip time of the session's TCP connection (TCP_INFO), once
  // it has one; nullopt through a proxy or without TCP.
  std::optional<std::chrono::microseconds> round_trip_time() const;

 private:
  explicit SshSession(std::shared_ptr<detail::SessionCore> core);
  std::shared_ptr<detail::SessionCore> core_;
};

// A remote command: read_some() reads its stdout, write_all() feeds its stdin, close_write()
// ends its stdin. Destroying the channel closes it (the command sees EOF, then the channel
// goes away); it does not wait for the command.
class SshExecChannel final : public ByteStream {
 public:
  SshExecChannel(SshExecChannel&&) noexcept;
  SshExecChannel& operator=(SshExecChannel&&) noexcept;
  ~SshExecChannel() override;

  size_t read_some(void* buf, size_t n) override;
  void write_all(const void* buf, size_t n) override;
  void close_write() override;

  // Up to n bytes of the command's stderr, waiting at most max_wait for some. Returns 0 when
  // nothing arrived in time or stderr has ended (stderr_ended()). Stderr is collected in the
  // background, so an unread stderr never stalls stdout; past 1 MiB unread, further stderr
  // is dropped and counted (stderr_bytes_dropped()).
  size_t read_stderr_some(void* buf, size_t n,
                          std::chrono::milliseconds max_wait = std::chrono::milliseconds(0));
  bool stderr_ended();
  uint64_t stderr_bytes_dropped();

  // Waits until the command has ended. Its exit status, or nullopt when it was killed by a
  // signal (exit_signal() names it, e.g. "TERM") or the server reported no status.
  std::optional<int> exit_status();
  std::string exit_signal();

 private:
  friend class SshSession;
  SshExecChannel(std::shared_ptr<detail::SessionCore> core,
                 std::unique_ptr<detail::ChannelState> state);
  void close_channel() noexcept;

  std::shared_ptr<detail::SessionCore> core_;
  std::unique_ptr<detail::ChannelState> state_;
};

// rsync's -e argument, e.g. `ssh -p 2222 -i ~/.ssh/k -l bob -o StrictHostKeyChecking=accept-new`.
// Split like a shell (quotes, backslashes; no expansions but a leading ~/). The program must be
// ssh (or a path ending in /ssh). Understood: -p, -i, -l, -F, and -o with Port, User,
// IdentityFile, StrictHostKeyChecking (yes, accept-new, no: like accept-new, changed keys still
// refused; ask), UserKnownHostsFile, BatchMode. As in ssh, the first value of a setting wins
// and -i/IdentityFile accumulate. Anything else throws std::invalid_argument naming it: we
// would rather refuse than silently ignore what the user asked ssh to do.
struct RshCommand {
  SshTarget target;  // host is left empty: it comes from the remote path
  SshOptions options;
};
RshCommand parse_rsh_command(const std::string& e_arg);

// `[user@]host:path` (also `[user@][v6addr]:path`). nullopt for a local path: one without a
// colon before its first slash, such as "./a:b" or "/x:y", as rsync decides. Throws
// std::invalid_argument for an empty host, rsync daemon syntax (host::module, rsync://).
struct RemoteSpec {
  std::string user;  // empty if not given
  std::string host;
  std::string path;  // may be empty: the remote home directory
  friend bool operator==(const RemoteSpec&, const RemoteSpec&) = default;
};
std::optional<RemoteSpec> parse_remote_spec(const std::string& arg);

}  // namespace arsync::control
