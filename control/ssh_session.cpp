#include "control/ssh_session.h"

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>

#include "control/words.h"
#include "fsio/unique_fd.h"

namespace arsync::control {
namespace {

// ---------------------------------------------------------------------------------------------
// Ownership of libssh objects
// ---------------------------------------------------------------------------------------------

struct SessionFree {
  void operator()(ssh_session s) const {
    ssh_disconnect(s);
    ssh_free(s);
  }
};
struct ChannelFree {
  void operator()(ssh_channel c) const { ssh_channel_free(c); }
};
struct KeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
struct EventFree {
  void operator()(ssh_event e) const { ssh_event_free(e); }
};
struct LibsshCharsFree {
  void operator()(char* s) const { ssh_string_free_char(s); }
};
struct HashFree {
  void operator()(unsigned char* h) const { ssh_clean_pubkey_hash(&h); }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionFree>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelFree>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyFree>;
using EventPtr = std::unique_ptr<ssh_event_struct, EventFree>;
using LibsshChars = std::unique_ptr<char, LibsshCharsFree>;
using HashPtr = std::unique_ptr<unsigned char, HashFree>;

// Ours first (AES-GCM is the fastest cipher libssh has here; curve25519 the cheapest key
// exchange), then libssh 0.10's own defaults, which it offers no way to read. ssh_options_set
// drops whatever this libssh build lacks.
constexpr const char* kCiphers =
    "aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"
    "aes256-gcm@openssh.com,aes256-ctr,aes192-ctr";
constexpr const char* kKeyExchanges =
    "curve25519-sha256,curve25519-sha256@libssh.org,"
    "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group18-sha512,diffie-hellman-group16-sha512,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group14-sha256";

// One read asks libssh for at most this much: libssh grows the channel window to the size
// asked for, so an unbounded request would let the peer queue unbounded data here.
constexpr uint32_t kMaxReadChunk = 1u << 20;
// One write holds the session mutex for at most this much data, so a reader gets a turn.
constexpr size_t kMaxWriteChunk = 256u << 10;
// libssh reads the socket 4 KiB at a time: keep reading while bytes keep coming (a 32 KiB
// packet is 8 reads) before going back to poll().
constexpr int kReadRoundsBeforePoll = 64;
// Unread stderr kept per channel; past it stderr is dropped (and counted) rather than left to
// fill the channel window, which stdout shares.
constexpr size_t kStderrLimit = 1u << 20;
// Waits re-check their condition at least this often. Every wake-up we know of is signalled
// (socket, eventfd, condition variable); this only bounds the cost of one we do not know of.
constexpr std::chrono::milliseconds kMaxPollWait(50);

std::string libssh_text(const char* s) {
  return s != nullptr ? s : "(unknown)";
}

std::string option_string(ssh_session s, ssh_options_e what) {
  char* raw = nullptr;
  if (ssh_options_get(s, what, &raw) != SSH_OK || raw == nullptr) return {};
  LibsshChars owned(raw);
  return owned.get();
}

// libssh asks through this for a private key's passphrase (explicit -i files and
// publickey_auto). Only a terminal user is asked; otherwise the key is skipped, never waited on.
int ask_passphrase(const char* prompt, char* buf, size_t len, int echo, int verify,
                   void* userdata) {
  const bool allow_prompt = *static_cast<const bool*>(userdata);
  if (!allow_prompt || ::isatty(STDIN_FILENO) == 0) return -1;
  return ssh_getpass(prompt, buf, len, echo, verify);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Session and channel state
// ---------------------------------------------------------------------------------------------

namespace detail {

// Shared by a session and its channels. Waiting works like this: a thread that needs
// something from the network (data, window, exit status) records `generation`, lets go of
// the mutex and waits. At most one waiter at a time polls the socket itself (the others wait
// on `progress`); whoever makes libssh process a packet, by polling or by any other libssh
// call, bumps `generation` and wakes everyone, and kicks the polling thread through `wake` so
// that it does not sleep on a socket another thread has just drained.
struct SessionCore {
  // libssh writes into these and into `callbacks`: declared before `session` so that they
  // outlive it.
  ssh_counter_struct socket_counter{};
  ssh_counter_struct packet_counter{};
  ssh_callbacks_struct callbacks{};
  bool allow_prompt = false;
  SessionPtr session;
  // Holds the session's socket so that ssh_event_dopoll can process incoming packets on
  // demand, whatever state the channels are in. Freed before the session.
  EventPtr event;
  fsio::UniqueFd wake;
  int socket_fd = -1;
  std::string peer;

  std::mutex mutex;
  std::condition_variable progress;
  uint64_t generation = 0;
  uint64_t packets_seen = 0;
  bool poller_active = false;
  // Threads inside SshExecChannel::read_some. While one is, packets are being processed
  // anyway: a stderr reader waits for its own signal instead of polling too (which took
  // turns at the socket with the stdout reader and was woken for every packet).
  int stdout_readers = 0;

  ~SessionCore() {
    event.reset();
    session.reset();
  }

  bool connected() {
    ssh_session s = session.get();
    return ssh_is_connected(s) != 0 && (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0;
  }

  // Call with the mutex held after every libssh call that may have read packets.
  void note_progress() {
    if (packet_counter.in_packets == packets_seen) return;
    packets_seen = packet_counter.in_packets;
    ++generation;
    progress.notify_all();
    if (poller_active) {
      const uint64_t one = 1;
      [[maybe_unused]] ssize_t ignored = ::write(wake.get(), &one, sizeof one);
    }
  }

  // Waits (mutex released meanwhile) until some packet has been processed since `seen`, or
  // until `deadline`, or kMaxPollWait. Callers re-check their condition in a loop.
  void wait_for_progress(std::unique_lock<std::mutex>& lock, uint64_t seen,
                         std::chrono::steady_clock::time_point deadline =
                             std::chrono::steady_clock::time_point::max()) {
    deadline = std::min(deadline, std::chrono::steady_clock::now() + kMaxPollWait);
    while (generation == seen) {
      if (!poller_active) {
        poll_socket(lock, deadline);
        return;
      }
      if (progress.wait_until(lock, deadline) == std::cv_status::timeout) return;
    }
  }

  [[noreturn]] void fail(const std::string& doing) {
    ssh_session s = session.get();
    if (!connected()) {
      throw SshConnectError("ssh: " + peer + ": connection lost while " + doing + ": " +
                            libssh_text(ssh_get_error(s)));
    }
    throw SshError("ssh: " + peer + ": " + doing + " failed: " + libssh_text(ssh_get_error(s)));
  }

 private:
  void poll_socket(std::unique_lock<std::mutex>& lock,
                   std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fds[2] = {{socket_fd, POLLIN, 0}, {wake.get(), POLLIN, 0}};
    // Output libssh could not send yet goes out when the socket takes it.
    if ((ssh_get_status(session.get()) & SSH_WRITE_PENDING) != 0) fds[0].events |= POLLOUT;
    poller_active = true;
    lock.unlock();
    const int ready = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, left.count())));
    lock.lock();
    poller_active = false;
    uint64_t kicks = 0;
    [[maybe_unused]] ssize_t ignored = ::read(wake.get(), &kicks, sizeof kicks);
    if (ready > 0 && fds[0].revents != 0) ssh_event_dopoll(event.get(), 0);
    note_progress();
    // Someone waiting on `progress` may take over the polling.
    progress.notify_all();
  }
};

// One exec channel. Its libssh callbacks point here, so it lives on the heap and the
// callbacks are removed before the channel is freed (libssh keeps a channel we closed until
// the server confirms, and would call them later).
struct ChannelState {
  ChannelPtr channel;
  ssh_channel_callbacks_struct callbacks{};
  std::string stderr_data;  // unread stderr starts at stderr_read
  size_t stderr_read = 0;
  uint64_t stderr_dropped = 0;
  std::condition_variable stderr_changed;  // stderr data, EOF or close arrived
  bool remote_eof = false;
  bool remote_closed = false;
  bool eof_sent = false;
  std::optional<int> exit_status;
  std::string exit_signal;

  size_t stderr_unread() const { return stderr_data.size() - stderr_read; }

  // With the session mutex held. ssh_channel_free sends EOF and CLOSE if the channel is open
  // (an explicit ssh_channel_close on a channel that never opened would name remote channel 0,
  // which may be another of ours).
  void release() {
    if (!channel) return;
    ssh_remove_channel_callbacks(channel.get(), &callbacks);
    channel.reset();
  }
};

}  // namespace detail

namespace {

using detail::ChannelState;
using detail::SessionCore;

// stdout stays in libssh's buffer (return 0): ssh_channel_read then paces the channel window
// to what we actually read. stderr is taken at once, so that nobody has to read it.
int on_channel_data(ssh_session, ssh_channel, void* data, uint32_t len, int is_stderr,
                    void* userdata) {
  if (is_stderr == 0) return 0;
  auto* state = static_cast<ChannelState*>(userdata);
  if (state->stderr_read > kStderrLimit / 2 || state->stderr_read == state->stderr_data.size()) {
    state->stderr_data.erase(0, state->stderr_read);
    state->stderr_read = 0;
  }
  const size_t keep = std::min<size_t>(len, kStderrLimit - state->stderr_unread());
  state->stderr_data.append(static_cast<const char*>(data), keep);
  state->stderr_dropped += len - keep;
  state->stderr_changed.notify_all();
  return static_cast<int>(len);
}

void on_channel_eof(ssh_session, ssh_channel, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  state->remote_eof = true;
  state->stderr_changed.notify_all();
}

void on_channel_close(ssh_session, ssh_channel, void* userdata) {
  auto* state = static_cast<ChannelState*>(userdata);
  state->remote_closed = true;
  state->stderr_changed.notify_all();
}

void on_exit_status(ssh_session, ssh_channel, int status, void* userdata) {
  static_cast<ChannelState*>(userdata)->exit_status = status;
}

void on_exit_signal(ssh_session, ssh_channel, const char* signal, int, const char*, const char*,
                    void* userdata) {
  static_cast<ChannelState*>(userdata)->exit_signal = signal != nullptr ? signal : "?";
}

// ---------------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------------

void set_option(ssh_session s, ssh_options_e what, const void* value, const std::string& host,
                const char* name) {
  if (ssh_options_set(s, what, value) != SSH_OK) {
    throw SshConnectError("ssh: " + host + ": cannot set " + name + ": " +
                          libssh_text(ssh_get_error(s)));
  }
}

void configure(ssh_session s, const SshTarget& target, const SshOptions& options) {
  const std::string& host = target.host;
  set_option(s, SSH_OPTIONS_HOST, host.c_str(), host, "the host");
  // Before reading ssh_config, so that Ciphers or KexAlgorithms set there win over ours.
  set_option(s, SSH_OPTIONS_CIPHERS_C_S, kCiphers, host, "ciphers");
  set_option(s, SSH_OPTIONS_CIPHERS_S_C, kCiphers, host, "ciphers");
  set_option(s, SSH_OPTIONS_KEY_EXCHANGE, kKeyExchanges, host, "key exchanges");
  if (!target.config_file.empty() && ::access(target.config_file.c_str(), R_OK) != 0) {
    // libssh silently skips a missing file; ssh -F refuses it, and so do we.
    throw SshConnectError("ssh: " + host + ": cannot read config file " + target.config_file +
                          ": " + std::strerror(errno));
  }
  if (ssh_options_parse_config(
          s, target.config_file.empty() ? nullptr : target.config_file.c_str()) != 0) {
    throw SshConnectError("ssh: " + host + ": bad ssh config: " + libssh_text(ssh_get_error(s)));
  }
  // After ssh_config, which would otherwise override them: the command line wins, as in ssh.
  if (!target.user.empty()) set_option(s, SSH_OPTIONS_USER, target.user.c_str(), host, "the user");
  if (option_string(s, SSH_OPTIONS_USER).empty()) {
    set_option(s, SSH_OPTIONS_USER, nullptr, host, "the user");  // the local user
  }
  if (target.port != 0) {
    const unsigned int port = target.port;
    set_option(s, SSH_OPTIONS_PORT, &port, host, "the port");
  }
  if (!options.known_hosts_file.empty()) {
    set_option(s, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts_file.c_str(), host,
               "the known_hosts file");
  }
  const long timeout = static_cast<long>(options.timeout.count());
  set_option(s, SSH_OPTIONS_TIMEOUT, &timeout, host, "the timeout");
  // Protocol requests are small and answered one by one: Nagle would delay each of them.
  const int nodelay = 1;
  set_option(s, SSH_OPTIONS_NODELAY, &nodelay, host, "TCP_NODELAY");
}

std::string describe_peer(ssh_session s) {
  unsigned int port = 22;
  ssh_options_get_port(s, &port);
  return option_string(s, SSH_OPTIONS_USER) + "@" + option_string(s, SSH_OPTIONS_HOST) + " port " +
         std::to_string(port);
}

// The name known_hosts files use for this host: "host", or "[host]:port" off port 22.
std::string known_hosts_name(ssh_session s) {
  unsigned int port = 22;
  ssh_options_get_port(s, &port);
  const std::string host = option_string(s, SSH_OPTIONS_HOST);
  return port == 22 ? host : "[" + host + "]:" + std::to_string(port);
}

std::string sha256_fingerprint(ssh_key key) {
  unsigned char* raw = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &raw, &len) != SSH_OK) {
    return "(no fingerprint)";
  }
  HashPtr hash(raw);
  LibsshChars text(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash.get(), len));
  return text ? text.get() : "(no fingerprint)";
}

std::optional<std::string> read_terminal_line() {
  std::string line;
  for (;;) {
    char c = 0;
    const ssize_t got = ::read(STDIN_FILENO, &c, 1);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return line.empty() ? std::nullopt : std::optional(line);
    if (c == '\n' || line.size() > 4096) return line;
    line += c;
  }
}

// OpenSSH's dialogue: "yes", "no", or the fingerprint itself.
bool ask_on_terminal(const std::string& question, const std::string& fingerprint) {
  std::string prompt = question;
  for (;;) {
    [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, prompt.data(), prompt.size());
    const std::optional<std::string> line = read_terminal_line();
    if (!line) return false;
    const std::string answer = trimmed(*line);
    if (lowercase(answer) == "yes" || answer == fingerprint) return true;
    if (lowercase(answer) == "no") return false;
    prompt = "Please type 'yes', 'no' or the fingerprint: ";
  }
}

void verify_host_key(SessionCore& core, const SshOptions& options) {
  ssh_session s = core.session.get();
  const std::string& peer = core.peer;
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s, &raw) != SSH_OK) {
    throw SshHostKeyError("ssh: " + peer + ": the server sent no host key");
  }
  const KeyPtr key(raw);
  const std::string fingerprint = sha256_fingerprint(key.get());
  const std::string key_text =
      std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " key " + fingerprint;
  const std::string file = option_string(s, SSH_OPTIONS_KNOWNHOSTS);
  const std::string name = known_hosts_name(s);

  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      return;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER:
      throw SshHostKeyError(
          "ssh: " + peer + ": REMOTE HOST IDENTIFICATION HAS CHANGED: the server's " + key_text +
          " is not the key " + file + " records for " + name +
          "; someone may be intercepting the connection (man-in-the-middle), or the host key "
          "was replaced. Refusing to connect; if the change is expected, remove the old key "
          "with: ssh-keygen -R '" +
          name + "' -f " + file);
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      break;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      throw SshHostKeyError("ssh: " + peer + ": cannot check the host key against " + file + ": " +
                            libssh_text(ssh_get_error(s)));
  }

  bool trusted = options.accept_new_host_key;
  if (!trusted && options.allow_prompt) {
    const std::string question = "The authenticity of host '" + name + "' can't be established.\n" +
                                 key_text +
                                 ".\nAre you sure you want to continue connecting "
                                 "(yes/no/[fingerprint])? ";
    if (options.confirm_host_key) {
      trusted = options.confirm_host_key(question);
    } else if (::isatty(STDIN_FILENO) != 0) {
      trusted = ask_on_terminal(question, fingerprint);
    } else {
      throw SshHostKeyError("ssh: " + peer + ": host key verification failed: " + file +
                            " has no key for " + name + " (the server offers " + key_text +
                            ") and there is no terminal to ask; check the fingerprint and add "
                            "the key, or use -o StrictHostKeyChecking=accept-new");
    }
    if (!trusted) {
      throw SshHostKeyError("ssh: " + peer + ": host key verification failed: " + key_text +
                            " not accepted");
    }
  }
  if (!trusted) {
    throw SshHostKeyError("ssh: " + peer + ": host key verification failed: " + file +
                          " has no key for " + name + " (the server offers " + key_text +
                          ") and we may not ask (BatchMode=yes or StrictHostKeyChecking=yes); "
                          "check the fingerprint and add the key to " +
                          file);
  }
  if (ssh_session_update_known_hosts(s) != SSH_OK) {
    throw SshHostKeyError("ssh: " + peer + ": cannot record the host key in " + file + ": " +
                          libssh_text(ssh_get_error(s)));
  }
}

std::string method_names(int methods) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {SSH_AUTH_METHOD_PUBLICKEY, "publickey"},
      {SSH_AUTH_METHOD_PASSWORD, "password"},
      {SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive"},
      {SSH_AUTH_METHOD_HOSTBASED, "hostbased"},
      {SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic"},
  };
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if ((methods & bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out.empty() ? "publickey" : out;
}

// none, then the agent, then key files; the first success wins. A method that fails without
// breaking the connection (a broken agent, an unsupported key) only adds a note.
void authenticate(SessionCore& core, const SshTarget& target, const SshOptions& options) {
  ssh_session s = core.session.get();
  std::string notes;
  const auto accepted = [&](int rc, const std::string& what) {
    if (rc == SSH_AUTH_SUCCESS) return true;
    if (rc == SSH_AUTH_ERROR) {
      const std::string error = libssh_text(ssh_get_error(s));
      if (!core.connected()) {
        throw SshAuthError("ssh: " + core.peer + ": authentication failed: " + error);
      }
      notes += "; " + what + ": " + error;
    }
    return false;
  };
  if (accepted(ssh_userauth_none(s, nullptr), "none")) return;

  const int methods = ssh_userauth_list(s, nullptr);
  if ((methods & SSH_AUTH_METHOD_PUBLICKEY) != 0) {
    // publickey_auto starts with the agent itself: asking it first here too would offer every
    // agent key twice, and sshd counts each refusal towards MaxAuthTries.
    const bool default_keys = target.identity_files.empty() && options.use_default_identities;
    if (options.use_agent && !default_keys &&
        accepted(ssh_userauth_agent(s, nullptr), "ssh-agent")) {
      return;
    }
    for (const std::string& file : target.identity_files) {
      ssh_key raw = nullptr;
      if (ssh_pki_import_privkey_file(file.c_str(), nullptr, ask_passphrase, &core.allow_prompt,
                                      &raw) != SSH_OK) {
        notes += "; cannot load identity file " + file;
        continue;
      }
      const KeyPtr key(raw);
      if (accepted(ssh_userauth_publickey(s, nullptr, key.get()), file)) return;
    }
    if (default_keys &&
        accepted(ssh_userauth_publickey_auto(s, nullptr, nullptr), "default keys")) {
      return;
    }
  }
  throw SshAuthError("ssh: " + core.peer + ": Permission denied (" + method_names(methods) + ")" +
                     notes);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// SshSession
// ---------------------------------------------------------------------------------------------

SshSession SshSession::connect(const SshTarget& target, const SshOptions& options) {
  if (target.host.empty()) throw SshConnectError("ssh: no host to connect to");
  auto core = std::make_shared<SessionCore>();
  core->session.reset(ssh_new());
  if (!core->session) throw SshConnectError("ssh: " + target.host + ": cannot create a session");
  ssh_session s = core->session.get();
  core->allow_prompt = options.allow_prompt;
  core->callbacks.userdata = &core->allow_prompt;
  core->callbacks.auth_function = ask_passphrase;
  ssh_callbacks_init(&core->callbacks);
  ssh_set_callbacks(s, &core->callbacks);

  configure(s, target, options);
  core->peer = describe_peer(s);
  if (ssh_connect(s) != SSH_OK) {
    throw SshConnectError("ssh: " + core->peer +
                          ": cannot connect: " + libssh_text(ssh_get_error(s)));
  }
  verify_host_key(*core, options);
  authenticate(*core, target, options);

  ssh_set_counters(s, &core->socket_counter, &core->packet_counter);
  core->socket_fd = ssh_get_fd(s);
  core->wake.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  core->event.reset(ssh_event_new());
  if (!core->wake || !core->event || ssh_event_add_session(core->event.get(), s) != SSH_OK) {
    throw SshConnectError("ssh: " + core->peer + ": cannot set up polling");
  }
  return SshSession(std::move(core));
}

SshSession::SshSession(std::shared_ptr<SessionCore> core) : core_(std::move(core)) {}
SshSession::SshSession(SshSession&&) noexcept = default;
SshSession& SshSession::operator=(SshSession&&) noexcept = default;
SshSession::~SshSession() = default;

const std::string& SshSession::peer() const {
  if (!core_) throw std::logic_error("peer of a moved-from SshSession");
  return core_->peer;
}

std::string SshSession::algorithms() const {
  if (!core_) throw std::logic_error("algorithms of a moved-from SshSession");
  std::lock_guard lock(core_->mutex);
  ssh_session s = core_->session.get();
  return libssh_text(ssh_get_cipher_out(s)) + " " + libssh_text(ssh_get_kex_algo(s));
}

std::string SshSession::server_address() const {
  if (!core_) throw std::logic_error("server_address of a moved-from SshSession");
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(core_->socket_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return {};
  char host[NI_MAXHOST];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, nullptr, 0,
                    NI_NUMERICHOST) != 0) {
    return {};
  }
  return host;
}

std::optional<std::chrono::microseconds> SshSession::round_trip_time() const {
  if (!core_) throw std::logic_error("round_trip_time of a moved-from SshSession");
  if (server_address().empty()) return std::nullopt;
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(core_->socket_fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_rttvar) || info.tcpi_rtt == 0)
    return std::nullopt;
  return std::chrono::microseconds(info.tcpi_rtt);
}

SshExecChannel SshSession::exec(const std::string& command) {
  if (!core_) throw std::logic_error("exec on a moved-from SshSession");
  auto state = std::make_unique<ChannelState>();
  std::unique_lock lock(core_->mutex);
  try {
    state->channel.reset(ssh_channel_new(core_->session.get()));
    if (!state->channel) core_->fail("opening a channel");
    ssh_channel channel = state->channel.get();
    // Before the command starts, so that nothing it says (stderr, exit status) is missed.
    ChannelState& st = *state;
    st.callbacks.userdata = &st;
    st.callbacks.channel_data_function = on_channel_data;
    st.callbacks.channel_eof_function = on_channel_eof;
    st.callbacks.channel_close_function = on_channel_close;
    st.callbacks.channel_exit_status_function = on_exit_status;
    st.callbacks.channel_exit_signal_function = on_exit_signal;
    ssh_callbacks_init(&st.callbacks);
    if (ssh_set_channel_callbacks(channel, &st.callbacks) != SSH_OK) {
      core_->fail("opening a channel");
    }
    if (ssh_channel_open_session(channel) != SSH_OK) core_->fail("opening a channel");
    if (ssh_channel_request_exec(channel, command.c_str()) != SSH_OK) {
      core_->fail("running '" + command + "'");
    }
    core_->note_progress();
  } catch (...) {
    state->release();
    throw;
  }
  lock.unlock();
  return SshExecChannel(core_, std::move(state));
}

// ---------------------------------------------------------------------------------------------
// SshExecChannel
// ---------------------------------------------------------------------------------------------

SshExecChannel::SshExecChannel(std::shared_ptr<SessionCore> core,
                               std::unique_ptr<ChannelState> state)
    : core_(std::move(core)), state_(std::move(state)) {}

SshExecChannel::SshExecChannel(SshExecChannel&&) noexcept = default;

SshExecChannel& SshExecChannel::operator=(SshExecChannel&& other) noexcept {
  if (this != &other) {
    close_channel();
    core_ = std::move(other.core_);
    state_ = std::move(other.state_);
  }
  return *this;
}

SshExecChannel::~SshExecChannel() {
  close_channel();
}

void SshExecChannel::close_channel() noexcept {
  if (!state_) return;
  {
    std::lock_guard lock(core_->mutex);
    state_->release();
    core_->note_progress();
  }
  state_.reset();
  core_.reset();
}

size_t SshExecChannel::read_some(void* buf, size_t n) {
  if (!state_) throw std::logic_error("read_some on a moved-from SshExecChannel");
  if (n == 0) return 0;
  const auto want = static_cast<uint32_t>(std::min<size_t>(n, kMaxReadChunk));
  std::unique_lock lock(core_->mutex);
  ssh_channel channel = state_->channel.get();
  ++core_->stdout_readers;
  struct Leave {
    SessionCore& core;
    ~Leave() { --core.stdout_readers; }  // runs with the mutex held: declared after `lock`
  } leave{*core_};
  for (;;) {
    for (int round = 0; round < kReadRoundsBeforePoll; ++round) {
      const uint64_t socket_bytes = core_->socket_counter.in_bytes;
      // Timeout 0: take what has arrived, never wait holding the mutex.
      const int got = ssh_channel_read_timeout(channel, buf, want, 0, 0);
      core_->note_progress();
      if (got > 0) return static_cast<size_t>(got);
      if (got == SSH_ERROR) core_->fail("reading the remote command's output");
      if (state_->remote_eof) return 0;
      if (core_->socket_counter.in_bytes == socket_bytes) break;
    }
    if (state_->remote_closed) return 0;
    if (!core_->connected()) core_->fail("reading the remote command's output");
    core_->wait_for_progress(lock, core_->generation);
  }
}

void SshExecChannel::write_all(const void* buf, size_t n) {
  if (!state_) throw std::logic_error("write_all on a moved-from SshExecChannel");
  const char* p = static_cast<const char*>(buf);
  std::unique_lock lock(core_->mutex);
  if (state_->eof_sent) throw std::logic_error("write_all after close_write");
  ssh_channel channel = state_->channel.get();
  while (n > 0) {
    if (state_->remote_closed || !core_->connected()) {
      core_->fail("writing to the remote command");
    }
    const uint32_t window = ssh_channel_window_size(channel);
    if (window == 0) {
      // ssh_channel_write would wait for the server's window adjust holding the mutex, while
      // the server may be waiting for our reader to take its output first: wait outside.
      core_->wait_for_progress(lock, core_->generation);
      continue;
    }
    const auto chunk = static_cast<uint32_t>(std::min<size_t>({n, window, kMaxWriteChunk}));
    const int put = ssh_channel_write(channel, p, chunk);
    core_->note_progress();
    if (put == SSH_ERROR) core_->fail("writing to the remote command");
    p += put;
    n -= static_cast<size_t>(put);
    if (n > 0) {
      // Let a reader blocked on the mutex in between chunks.
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
  }
}

void SshExecChannel::close_write() {
  if (!state_) throw std::logic_error("close_write on a moved-from SshExecChannel");
  std::lock_guard lock(core_->mutex);
  if (state_->eof_sent) return;
  const int rc = ssh_channel_send_eof(state_->channel.get());
  core_->note_progress();
  if (rc == SSH_ERROR) core_->fail("ending the remote command's input");
  state_->eof_sent = true;
}

size_t SshExecChannel::read_stderr_some(void* buf, size_t n, std::chrono::milliseconds max_wait) {
  if (!state_) throw std::logic_error("read_stderr_some on a moved-from SshExecChannel");
  if (n == 0) return 0;
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  std::unique_lock lock(core_->mutex);
  ChannelState& st = *state_;
  for (;;) {
    if (st.stderr_unread() > 0) {
      const size_t take = std::min(n, st.stderr_unread());
      std::memcpy(buf, st.stderr_data.data() + st.stderr_read, take);
      st.stderr_read += take;
      return take;
    }
    if (st.remote_eof || st.remote_closed) return 0;
    if (std::chrono::steady_clock::now() >= deadline) return 0;
    if (core_->stdout_readers > 0) {
      st.stderr_changed.wait_until(
          lock, std::min(deadline, std::chrono::steady_clock::now() + kMaxPollWait));
      continue;
    }
    // Processes what has arrived; stderr reaches stderr_data through on_channel_data.
    const int polled = ssh_channel_poll(st.channel.get(), 1);
    core_->note_progress();
    if (polled == SSH_ERROR) core_->fail("reading the remote command's errors");
    if (st.stderr_unread() > 0) continue;
    if (std::chrono::steady_clock::now() >= deadline) return 0;
    core_->wait_for_progress(lock, core_->generation, deadline);
  }
}

bool SshExecChannel::stderr_ended() {
  if (!state_) return true;
  std::lock_guard lock(core_->mutex);
  return (state_->remote_eof || state_->remote_closed) && state_->stderr_unread() == 0;
}

uint64_t SshExecChannel::stderr_bytes_dropped() {
  if (!state_) return 0;
  std::lock_guard lock(core_->mutex);
  return state_->stderr_dropped;
}

std::optional<int> SshExecChannel::exit_status() {
  if (!state_) throw std::logic_error("exit_status on a moved-from SshExecChannel");
  std::unique_lock lock(core_->mutex);
  for (;;) {
    if (state_->exit_status) return state_->exit_status;
    if (!state_->exit_signal.empty() || state_->remote_closed) return std::nullopt;
    if (!core_->connected()) core_->fail("waiting for the remote command to end");
    core_->wait_for_progress(lock, core_->generation);
  }
}

std::string SshExecChannel::exit_signal() {
  if (!state_) return {};
  std::lock_guard lock(core_->mutex);
  return state_->exit_signal;
}

}  // namespace arsync::control
