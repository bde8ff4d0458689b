// SshSession against a real OpenSSH server on 127.0.0.1, and the -e / host:path parsers.
#include "control/ssh_session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/ssh/sshd_fixture.h"

namespace arsync::control {
namespace {

using sshtest::SshdFixture;
using namespace std::chrono_literals;

// What the forced key runs, whatever the client asks: it shows what was asked.
constexpr const char* kForcedCommand =
    R"(/bin/sh -c 'printf "forced:%s\n" "$SSH_ORIGINAL_COMMAND"')";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string read_to_end(ByteStream& stream) {
  std::string out;
  char buf[4096];
  while (size_t got = stream.read_some(buf, sizeof buf)) out.append(buf, got);
  return out;
}

// After stdout has ended, all of stderr has arrived too.
std::string read_stderr(SshExecChannel& channel) {
  std::string out;
  char buf[4096];
  while (size_t got = channel.read_stderr_some(buf, sizeof buf)) out.append(buf, got);
  return out;
}

// The message of the T that `connect` throws, or a failure.
template <typename T, typename F>
std::string error_of(F&& connect) {
  try {
    connect();
  } catch (const T& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

class SshSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = SshdFixture::unavailable_reason()) GTEST_SKIP() << *reason;
    sshd_ = std::make_unique<SshdFixture>(kForcedCommand);
    // An empty ssh_config, so that the user's own cannot change what the tests do.
    config_ = sshd_->dir() + "/ssh_config";
    write_file(config_, "");
  }

  void TearDown() override {
    if (HasFailure() && sshd_) std::fprintf(stderr, "sshd log:\n%s", sshd_->log_text().c_str());
  }

  SshTarget target(const std::string& key) const {
    SshTarget t;
    t.user = "root";
    t.host = sshd_->host();
    t.port = sshd_->port();
    t.identity_files = {key};
    t.config_file = config_;
    return t;
  }

  // Only the explicit key, only the fixture's known_hosts, never a question.
  SshOptions options() const {
    SshOptions o;
    o.known_hosts_file = sshd_->known_hosts_path();
    o.allow_prompt = false;
    o.use_agent = false;
    o.use_default_identities = false;
    o.timeout = 10s;
    return o;
  }

  SshSession connect_plain() {
    return SshSession::connect(target(sshd_->plain_key_path()), options());
  }

  std::string known_hosts_name() const {
    return "[" + sshd_->host() + "]:" + std::to_string(sshd_->port());
  }

  std::unique_ptr<SshdFixture> sshd_;
  std::string config_;
};

TEST_F(SshSessionTest, ExecSeparatesOutputErrorsAndExitStatus) {
  SshSession session = connect_plain();
  EXPECT_EQ(session.peer(), "root@127.0.0.1 port " + std::to_string(sshd_->port()));
  SshExecChannel channel = session.exec("echo hello; echo err >&2; exit 3");
  channel.close_write();
  EXPECT_EQ(read_to_end(channel), "hello\n");
  EXPECT_EQ(read_stderr(channel), "err\n");
  EXPECT_TRUE(channel.stderr_ended());
  EXPECT_EQ(channel.exit_status(), 3);
  EXPECT_EQ(channel.exit_signal(), "");
}

TEST_F(SshSessionTest, PrefersAesGcmAndCurve25519) {
  SshSession session = connect_plain();
  EXPECT_EQ(session.algorithms(), "aes128-gcm@openssh.com curve25519-sha256");
}

std::vector<uint8_t> pseudo_random_bytes(size_t size) {
  std::vector<uint8_t> out(size);
  uint64_t x = 0x9e3779b97f4a7c15;
  for (size_t i = 0; i + 8 <= size; i += 8) {  // xorshift: incompressible, reproducible
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(&out[i], &x, 8);
  }
  return out;
}

// Sends `sent` through a remote `cat`, writing from one thread and reading on this one, and
// checks that exactly the same bytes come back. Returns the seconds it took.
double round_trip_through_cat(SshSession& session, const std::vector<uint8_t>& sent) {
  const size_t size = sent.size();
  // Touched before the clock starts: first touches of fresh memory are slow on this VM.
  std::vector<uint8_t> received(size + 1);  // a byte more, to see any excess
  SshExecChannel channel = session.exec("cat");
  const auto start = std::chrono::steady_clock::now();
  std::exception_ptr writer_error;
  std::thread writer([&] {
    try {
      // Odd sizes, then a large buffer: write_all must cope with partial channel writes.
      size_t at = 0;
      for (size_t piece : {size_t{1}, size_t{4095}, size_t{65537}, size_t{4u << 20}}) {
        piece = std::min(piece, size - at);
        channel.write_all(&sent[at], piece);
        at += piece;
      }
      for (size_t piece; at < size; at += piece) {
        piece = std::min<size_t>(1u << 20, size - at);
        channel.write_all(&sent[at], piece);
      }
      channel.close_write();
    } catch (...) {
      writer_error = std::current_exception();
    }
  });
  size_t total = 0;
  while (size_t got = channel.read_some(&received[total], received.size() - total)) {
    total += got;
    if (total == received.size()) break;
  }
  writer.join();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (writer_error) std::rethrow_exception(writer_error);
  EXPECT_EQ(total, size);
  EXPECT_TRUE(total == size && std::memcmp(received.data(), sent.data(), size) == 0);
  EXPECT_EQ(channel.exit_status(), 0);
  return elapsed.count();
}

TEST_F(SshSessionTest, CatRoundTrip64MiBWithReaderAndWriterThreads) {
  constexpr size_t kSize = 64u << 20;
  const std::vector<uint8_t> sent = pseudo_random_bytes(kSize);
  SshSession session = connect_plain();
  const double seconds = round_trip_through_cat(session, sent);
  const double mb_per_s = kSize / 1e6 / seconds;
  std::printf("64 MiB through cat and back in %.3f s: %.0f MB/s each way\n", seconds, mb_per_s);
  RecordProperty("cat_round_trip_MBps_each_way", std::to_string(static_cast<int>(mb_per_s)));
}

TEST_F(SshSessionTest, StreamSurvivesKeyReExchanges) {
  // A server that re-keys every MiB, so that key exchanges land in the middle of both
  // directions of the stream, with both threads busy.
  SshdFixture rekeying(kForcedCommand, "RekeyLimit 1M\n");
  SshTarget t = target(rekeying.plain_key_path());
  t.port = rekeying.port();
  SshOptions o = options();
  o.known_hosts_file = rekeying.known_hosts_path();
  SshSession session = SshSession::connect(t, o);
  round_trip_through_cat(session, pseudo_random_bytes(6u << 20));
}

TEST_F(SshSessionTest, WriterBlockedOnTheWindowDoesNotBlockTheReader) {
  // Nobody reads at first: cat's output fills our window, cat stops reading, the server's
  // window closes and the writer must wait, without holding up the reader that comes later.
  constexpr size_t kSize = 16u << 20;  // far more than both windows and the pipes hold
  const std::vector<char> sent(kSize, 'a');
  SshSession session = connect_plain();
  SshExecChannel channel = session.exec("cat");
  std::atomic<bool> written{false};
  std::exception_ptr writer_error;
  std::thread writer([&] {
    try {
      channel.write_all(sent.data(), kSize);
      written = true;
      channel.close_write();
    } catch (...) {
      writer_error = std::current_exception();
    }
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(written);
  size_t total = 0;
  char buf[1 << 16];
  while (size_t got = channel.read_some(buf, sizeof buf)) total += got;
  writer.join();
  if (writer_error) std::rethrow_exception(writer_error);
  EXPECT_EQ(total, kSize);
  EXPECT_EQ(channel.exit_status(), 0);
}

TEST_F(SshSessionTest, WrongKeyIsPermissionDenied) {
  const std::string message = error_of<SshAuthError>(
      [&] { SshSession::connect(target(sshd_->stranger_key_path()), options()); });
  EXPECT_NE(message.find("Permission denied (publickey)"), std::string::npos) << message;
  EXPECT_NE(message.find("root@127.0.0.1"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST_F(SshSessionTest, UnreadableIdentityFileIsNamed) {
  const std::string message = error_of<SshAuthError>(
      [&] { SshSession::connect(target(sshd_->dir() + "/no_such_key"), options()); });
  EXPECT_NE(message.find("Permission denied"), std::string::npos) << message;
  EXPECT_NE(message.find("no_such_key"), std::string::npos) << message;
}

TEST_F(SshSessionTest, UnknownHostKeyIsRefusedWhenWeMayNotAsk) {
  SshOptions o = options();
  o.known_hosts_file = sshd_->dir() + "/empty_known_hosts";
  write_file(o.known_hosts_file, "");
  const std::string message =
      error_of<SshHostKeyError>([&] { SshSession::connect(target(sshd_->plain_key_path()), o); });
  EXPECT_NE(message.find(known_hosts_name()), std::string::npos) << message;
  EXPECT_NE(message.find(o.known_hosts_file), std::string::npos) << message;
  EXPECT_NE(message.find(sshd_->host_key_fingerprint()), std::string::npos) << message;
  EXPECT_EQ(read_file(o.known_hosts_file), "");
}

TEST_F(SshSessionTest, UnknownHostKeyWithoutTerminalIsRefusedNotAsked) {
  SshOptions o = options();
  o.allow_prompt = true;  // we may ask, but stdin is no terminal
  o.known_hosts_file = sshd_->dir() + "/empty_known_hosts";
  write_file(o.known_hosts_file, "");
  const int saved_stdin = ::dup(STDIN_FILENO);
  const int null = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(null, 0);
  ::dup2(null, STDIN_FILENO);
  ::close(null);
  const std::string message =
      error_of<SshHostKeyError>([&] { SshSession::connect(target(sshd_->plain_key_path()), o); });
  ::dup2(saved_stdin, STDIN_FILENO);
  ::close(saved_stdin);
  EXPECT_NE(message.find("no terminal"), std::string::npos) << message;
}

TEST_F(SshSessionTest, AcceptNewRecordsTheHostKey) {
  SshOptions o = options();
  o.known_hosts_file = sshd_->dir() + "/new_known_hosts";  // does not exist yet
  o.accept_new_host_key = true;
  {
    SshSession session = SshSession::connect(target(sshd_->plain_key_path()), o);
    SshExecChannel channel = session.exec("true");
    EXPECT_EQ(channel.exit_status(), 0);
  }
  EXPECT_EQ(read_file(o.known_hosts_file),
            known_hosts_name() + " " + sshd_->host_public_key() + "\n");
  o.accept_new_host_key = false;  // now known
  EXPECT_NO_THROW(SshSession::connect(target(sshd_->plain_key_path()), o));
}

TEST_F(SshSessionTest, ChangedHostKeyIsRefused) {
  SshOptions o = options();
  o.known_hosts_file = sshd_->dir() + "/changed_known_hosts";
  o.accept_new_host_key = true;  // must not matter
  std::istringstream other_key(read_file(sshd_->plain_key_path() + ".pub"));
  std::string type, blob;
  other_key >> type >> blob;
  write_file(o.known_hosts_file, known_hosts_name() + " " + type + " " + blob + "\n");
  const std::string message =
      error_of<SshHostKeyError>([&] { SshSession::connect(target(sshd_->plain_key_path()), o); });
  EXPECT_NE(message.find("REMOTE HOST IDENTIFICATION HAS CHANGED"), std::string::npos) << message;
  EXPECT_NE(message.find(o.known_hosts_file), std::string::npos) << message;
  EXPECT_NE(message.find("127.0.0.1"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST_F(SshSessionTest, QuestionShowsTheFingerprintAndTheAnswerCounts) {
  SshOptions o = options();
  o.allow_prompt = true;
  o.known_hosts_file = sshd_->dir() + "/asked_known_hosts";
  std::string asked;
  o.confirm_host_key = [&](const std::string& question) {
    asked = question;
    return false;
  };
  error_of<SshHostKeyError>([&] { SshSession::connect(target(sshd_->plain_key_path()), o); });
  EXPECT_NE(asked.find(sshd_->host_key_fingerprint()), std::string::npos) << asked;
  EXPECT_NE(asked.find(known_hosts_name()), std::string::npos) << asked;
  EXPECT_NE(asked.find("(yes/no"), std::string::npos) << asked;
  EXPECT_EQ(read_file(o.known_hosts_file), "");

  o.confirm_host_key = [](const std::string&) { return true; };
  EXPECT_NO_THROW(SshSession::connect(target(sshd_->plain_key_path()), o));
  EXPECT_NE(read_file(o.known_hosts_file).find(sshd_->host_public_key()), std::string::npos);
}

TEST_F(SshSessionTest, ForcedCommandRunsWithTheOriginalCommand) {
  SshSession session = SshSession::connect(target(sshd_->forced_key_path()), options());
  SshExecChannel channel = session.exec("arsync-helper --server '/some dir'");
  EXPECT_EQ(read_to_end(channel), "forced:arsync-helper --server '/some dir'\n");
  EXPECT_EQ(channel.exit_status(), 0);
}

TEST_F(SshSessionTest, UnreadStderrNeitherStallsStdoutNorGrowsWithoutBound) {
  SshSession session = connect_plain();
  SshExecChannel channel = session.exec("head -c 3145728 /dev/zero >&2; echo done");
  EXPECT_EQ(read_to_end(channel), "done\n");
  EXPECT_EQ(channel.exit_status(), 0);
  EXPECT_EQ(channel.stderr_bytes_dropped(), 2u << 20);  // 1 MiB kept unread
  EXPECT_EQ(read_stderr(channel).size(), 1u << 20);
}

TEST_F(SshSessionTest, KilledCommandHasNoExitStatusButASignal) {
  SshSession session = connect_plain();
  SshExecChannel channel = session.exec("kill -TERM $$");
  EXPECT_EQ(read_to_end(channel), "");
  EXPECT_EQ(channel.exit_status(), std::nullopt);
  EXPECT_EQ(channel.exit_signal(), "TERM");
}

TEST_F(SshSessionTest, ChannelsShareASessionAndMayOutliveIt) {
  std::optional<SshExecChannel> later;
  {
    SshSession session = connect_plain();
    SshExecChannel first = session.exec("echo one");
    SshExecChannel second = session.exec("read line; echo \"got $line\"");
    second.write_all("two\n", 4);
    EXPECT_EQ(read_to_end(second), "got two\n");
    EXPECT_EQ(read_to_end(first), "one\n");
    later.emplace(session.exec("echo three"));
  }
  EXPECT_EQ(read_to_end(*later), "three\n");
  EXPECT_EQ(later->exit_status(), 0);
}

TEST_F(SshSessionTest, ClosedPortIsAConnectError) {
  // Bound but not listening: connections to it are refused, and nobody else can take it.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  SshTarget t = target(sshd_->plain_key_path());
  t.port = ntohs(addr.sin_port);
  const std::string message = error_of<SshConnectError>([&] { SshSession::connect(t, options()); });
  ::close(fd);
  EXPECT_NE(message.find("127.0.0.1 port " + std::to_string(t.port)), std::string::npos) << message;
}

TEST_F(SshSessionTest, MissingConfigFileIsAConnectError) {
  SshTarget t = target(sshd_->plain_key_path());
  t.config_file = sshd_->dir() + "/no_such_config";
  const std::string message = error_of<SshConnectError>([&] { SshSession::connect(t, options()); });
  EXPECT_NE(message.find("no_such_config"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------------
// rsync's -e argument
// ---------------------------------------------------------------------------------------------

// ssh expands ~/ with $HOME: give it a known value for the test, and put it back after.
class ParseRshCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* home = std::getenv("HOME")) saved_home_ = home;
    ::setenv("HOME", "/home/tester", 1);
  }
  void TearDown() override {
    if (saved_home_) {
      ::setenv("HOME", saved_home_->c_str(), 1);
    } else {
      ::unsetenv("HOME");
    }
  }
  std::optional<std::string> saved_home_;
};

TEST_F(ParseRshCommandTest, MapsFlagsAndOptions) {
  struct Case {
    std::string e_arg;
    std::string user;
    uint16_t port;
    std::vector<std::string> identities;
    std::string config, known_hosts;
    bool accept_new, allow_prompt;
  };
  const Case cases[] = {
      {"ssh", "", 0, {}, "", "", false, true},
      {"/usr/bin/ssh -p 2222 -i /k -l bob", "bob", 2222, {"/k"}, "", "", false, true},
      {"ssh -p2222 -i/k -lbob -F/cfg", "bob", 2222, {"/k"}, "/cfg", "", false, true},
      {"ssh -i ~/.ssh/a -o IdentityFile=/b",
       "",
       0,
       {"/home/tester/.ssh/a", "/b"},
       "",
       "",
       false,
       true},
      {"ssh -o Port=2200 -o User=al -o UserKnownHostsFile=/kh",
       "al",
       2200,
       {},
       "",
       "/kh",
       false,
       true},
      {"ssh -oport=1 -o 'User bob' -o 'Port = 2'", "bob", 1, {}, "", "", false, true},
      {"ssh -p 5 -o Port=6 -l x -o User=y", "x", 5, {}, "", "", false, true},  // first wins
      {"ssh -o StrictHostKeyChecking=accept-new", "", 0, {}, "", "", true, true},
      {"ssh -o StrictHostKeyChecking=no", "", 0, {}, "", "", true, true},
      {"ssh -o StrictHostKeyChecking=yes", "", 0, {}, "", "", false, false},
      {"ssh -o stricthostkeychecking=Ask", "", 0, {}, "", "", false, true},
      {"ssh -o BatchMode=yes", "", 0, {}, "", "", false, false},
      {"ssh -o BatchMode=no -F ~/cfg", "", 0, {}, "/home/tester/cfg", "", false, true},
      {"ssh -i \"/key dir/k\" -i '/it''s' -i /a\\ b",
       "",
       0,
       {"/key dir/k", "/its", "/a b"},
       "",
       "",
       false,
       true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.e_arg);
    const RshCommand got = parse_rsh_command(c.e_arg);
    EXPECT_EQ(got.target.user, c.user);
    EXPECT_EQ(got.target.host, "");
    EXPECT_EQ(got.target.port, c.port);
    EXPECT_EQ(got.target.identity_files, c.identities);
    EXPECT_EQ(got.target.config_file, c.config);
    EXPECT_EQ(got.options.known_hosts_file, c.known_hosts);
    EXPECT_EQ(got.options.accept_new_host_key, c.accept_new);
    EXPECT_EQ(got.options.allow_prompt, c.allow_prompt);
  }
}

TEST_F(ParseRshCommandTest, RefusesWhatItCannotHonour) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "no remote shell"},
      {"rsh -p 22", "must be ssh"},
      {"sshpass -p x ssh", "must be ssh"},
      {"ssh -v", "-v"},
      {"ssh -C -p 22", "-C"},
      {"ssh -o Compression=yes", "Compression"},
      {"ssh -o ProxyJump=x", "ProxyJump"},
      {"ssh -p", "-p needs a value"},
      {"ssh -p abc", "bad port"},
      {"ssh -p 0", "bad port"},
      {"ssh -p 65536", "bad port"},
      {"ssh -o Port=", "no value"},
      {"ssh -o StrictHostKeyChecking=maybe", "StrictHostKeyChecking"},
      {"ssh -o BatchMode=perhaps", "BatchMode"},
      {"ssh -o 'UserKnownHostsFile=/a /b'", "several files"},
      {"ssh 'unterminated", "unterminated single quote"},
      {"ssh \"unterminated", "unterminated double quote"},
      {"ssh host", "unexpected argument 'host'"},
  };
  for (const auto& [e_arg, why] : cases) {
    SCOPED_TRACE(e_arg);
    try {
      parse_rsh_command(e_arg);
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// [user@]host:path
// ---------------------------------------------------------------------------------------------

TEST(ParseRemoteSpecTest, SplitsRemoteAndRecognisesLocal) {
  const std::pair<std::string, std::optional<RemoteSpec>> cases[] = {
      {"user@host:path", RemoteSpec{"user", "host", "path"}},
      {"host:path", RemoteSpec{"", "host", "path"}},
      {"host:", RemoteSpec{"", "host", ""}},
      {"host:/abs/a:b", RemoteSpec{"", "host", "/abs/a:b"}},
      {"a@b@host:x", RemoteSpec{"a@b", "host", "x"}},
      {"[::1]:path", RemoteSpec{"", "::1", "path"}},
      {"bob@[fe80::1]:/d/", RemoteSpec{"bob", "fe80::1", "/d/"}},
      {"127.0.0.1:dir/", RemoteSpec{"", "127.0.0.1", "dir/"}},
      {"./a:b", std::nullopt},
      {"/x:y", std::nullopt},
      {"dir/host:x", std::nullopt},
      {"plain", std::nullopt},
      {"user@host", std::nullopt},
  };
  for (const auto& [arg, want] : cases) {
    SCOPED_TRACE(arg);
    EXPECT_EQ(parse_remote_spec(arg), want);
  }
}

TEST(ParseRemoteSpecTest, RefusesMalformedAndDaemonSyntax) {
  const std::pair<std::string, std::string> cases[] = {
      {":path", "no host"},
      {"user@:path", "no host"},
      {"@host:path", "empty user"},
      {"[::1:path", "unterminated"},
      {"[::1]path", "expected ':'"},
      {"host::module", "daemon"},
      {"rsync://host/module", "daemon"},
  };
  for (const auto& [arg, why] : cases) {
    SCOPED_TRACE(arg);
    try {
      parse_remote_spec(arg);
      ADD_FAILURE() << "accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace arsync::control
