#include "tests/ssh/sshd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace arsync::sshtest {
namespace {

namespace fs = std::filesystem;
using std::chrono::steady_clock;

constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(5);

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

// Starts argv[0] (a path) with stdin from /dev/null and stdout and stderr going to `output`.
// With `die_with_us`, the kernel sends it SIGTERM when this thread ends, even by SIGKILL (a
// test killed on timeout), so that it cannot outlive the test.
pid_t spawn(const std::vector<std::string>& argv, const std::string& output, bool die_with_us) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (child == 0) {
    if (die_with_us && (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent)) {
      ::_exit(125);
    }
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_RDONLY);
    if (fd < 0 || null < 0 || ::dup2(null, 0) < 0 || ::dup2(fd, 1) < 0 || ::dup2(fd, 2) < 0) {
      ::_exit(126);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return child;
}

// Runs a command to its end; its exit status, or -1 if it did not exit normally.
int run(const std::vector<std::string>& argv, const std::string& output) {
  const pid_t child = spawn(argv, output, false);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A port nobody listens on right now: the kernel picks it for a socket bound to port 0.
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error(std::string("bind: ") + std::strerror(errno));
  return ntohs(addr.sin_port);
}

bool accepts_connections(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

struct ProcessInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  std::string name;  // comm
};

// Every process, from /proc/PID/stat: "pid (comm) state ppid ...".
std::vector<ProcessInfo> list_processes() {
  std::vector<ProcessInfo> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string pid = entry.path().filename();
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = read_file(entry.path() / "stat");
    const size_t open = stat.find('(');
    const size_t close = stat.rfind(')');  // comm may hold anything, even ')'
    if (open == std::string::npos || close == std::string::npos || close < open) continue;
    ProcessInfo info;
    info.pid = std::stoi(pid);
    info.name = stat.substr(open + 1, close - open - 1);
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    if (!(fields >> state >> info.ppid)) continue;
    out.push_back(std::move(info));
  }
  return out;
}

// The sshd listeners of the fixtures alive in this process, all children of this process.
std::mutex listeners_mutex;
std::set<pid_t> listeners;

// Adds to `tree` every process whose parent is in it, and the sshd processes this process has
// inherited (their parent in the tree exited between two looks), other fixtures' listeners
// aside.
void grow_tree(std::set<pid_t>& tree, const std::vector<ProcessInfo>& processes) {
  std::set<pid_t> others;
  {
    std::lock_guard lock(listeners_mutex);
    others = listeners;
  }
  for (size_t added = 1; added > 0;) {
    added = 0;
    for (const ProcessInfo& p : processes) {
      const bool inherited = p.ppid == ::getpid() && p.name == "sshd" && others.count(p.pid) == 0;
      if ((tree.count(p.ppid) != 0 || inherited) && tree.insert(p.pid).second) ++added;
    }
  }
}

// Stops sshd `listener` and waits until it and every process it started are gone, zombies
// included: as a subreaper this process inherits each of them whose parent has exited, and
// reaps it. The tree is re-read on every round, since connection processes fork as they end.
void stop_tree(pid_t listener) {
  {
    std::lock_guard lock(listeners_mutex);
    listeners.erase(listener);
  }
  std::set<pid_t> tree = {listener};
  grow_tree(tree, list_processes());  // before the kill, while they all hang below it
  ::kill(listener, SIGTERM);
  const auto deadline = steady_clock::now() + kStopTimeout;
  for (;;) {
    const std::vector<ProcessInfo> processes = list_processes();
    grow_tree(tree, processes);
    bool any_left = false;
    for (const ProcessInfo& p : processes) {
      if (tree.count(p.pid) == 0) continue;
      if (p.ppid == ::getpid()) ::waitpid(p.pid, nullptr, WNOHANG);
      any_left = true;
    }
    if (!any_left || steady_clock::now() > deadline) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string first_two_fields(const std::string& line) {
  std::istringstream in(line);
  std::string type, blob;
  in >> type >> blob;
  return type + " " + blob;
}

// authorized_keys quotes command="..." and takes \" for a quote inside.
std::string quote_for_authorized_keys(const std::string& command) {
  std::string out;
  for (char c : command) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::optional<std::string> SshdFixture::unavailable_reason() {
  if (::geteuid() != 0) return "sshd needs root here (privilege separation, PermitRootLogin)";
  if (::access(kSshd, X_OK) != 0) return std::string(kSshd) + " is not installed";
  return std::nullopt;
}

SshdFixture::SshdFixture(const std::string& forced_command, const std::string& extra_config)
    : extra_config_(extra_config) {
  if (auto reason = unavailable_reason()) throw std::runtime_error(*reason);
  char tmpl[] = "/tmp/arsync-sshd-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  dir_ = tmpl;
  // sshd's connection processes may outlive it for a moment: as a subreaper this process
  // inherits them instead of init, so that stop_sshd can reap them and leave no zombies.
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  try {
    write_files(forced_command);
    // Another process may take the free port before sshd binds it: try a few.
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      if (start_sshd()) break;
      if (attempt == 4) throw std::runtime_error("sshd found no free port:\n" + log_text());
    }
    write_file(known_hosts_path(),
               "[" + host_ + "]:" + std::to_string(port_) + " " + host_public_key_ + "\n");
  } catch (...) {
    stop_sshd();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

SshdFixture::~SshdFixture() {
  stop_sshd();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string SshdFixture::log_text() const {
  return read_file(dir_ + "/sshd.log");
}

void SshdFixture::write_files(const std::string& forced_command) {
  const std::string keygen_log = dir_ + "/ssh-keygen.log";
  for (const char* name : {"host_key", "plain_key", "forced_key", "stranger_key"}) {
    const std::string path = dir_ + "/" + name;
    if (run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path},
            keygen_log) != 0) {
      throw std::runtime_error("ssh-keygen failed: " + read_file(keygen_log));
    }
  }
  host_public_key_ = first_two_fields(read_file(dir_ + "/host_key.pub"));
  if (run({"/usr/bin/ssh-keygen", "-l", "-E", "sha256", "-f", dir_ + "/host_key.pub"},
          keygen_log) != 0) {
    throw std::runtime_error("ssh-keygen -l failed: " + read_file(keygen_log));
  }
  std::istringstream listing(read_file(keygen_log));  // "256 SHA256:... host_key (ED25519)"
  std::string bits;
  listing >> bits >> host_key_fingerprint_;

  write_file(dir_ + "/authorized_keys", read_file(plain_key_path() + ".pub") + "command=\"" +
                                            quote_for_authorized_keys(forced_command) +
                                            "\",no-pty,no-port-forwarding " +
                                            read_file(forced_key_path() + ".pub"));
}

bool SshdFixture::start_sshd() {
  const std::string config = dir_ + "/sshd_config";
  const std::string pid_file = dir_ + "/sshd.pid";
  write_file(config,
             "ListenAddress " + host_ + "\n" +                          //
                 "Port " + std::to_string(port_) + "\n" +               //
                 "PidFile " + pid_file + "\n" +                         //
                 "HostKey " + dir_ + "/host_key\n" +                    //
                 "AuthorizedKeysFile " + dir_ + "/authorized_keys\n" +  //
                 // /tmp is world-writable: sshd would refuse keys under it otherwise.
                 "StrictModes no\n"
                 "UsePAM no\n"
                 "PermitRootLogin yes\n"
                 "PasswordAuthentication no\n"
                 "KbdInteractiveAuthentication no\n"
                 "Subsystem sftp /usr/lib/openssh/sftp-server\n"
                 "LogLevel VERBOSE\n" +
                 extra_config_);
  // sshd refuses to start without its privilege separation directory.
  if (::mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
    throw std::runtime_error(std::string("mkdir /run/sshd: ") + std::strerror(errno));
  }
  // -D: sshd stays our child, so that it can die with us (see spawn).
  const pid_t child =
      spawn({kSshd, "-D", "-f", config, "-E", dir_ + "/sshd.log"}, dir_ + "/sshd.out", true);
  pid_ = child;
  const auto deadline = steady_clock::now() + kStartTimeout;
  for (;;) {
    if (::waitpid(child, nullptr, WNOHANG) == child) {
      pid_ = -1;
      if (log_text().find("Address already in use") != std::string::npos) return false;
      throw std::runtime_error("sshd did not start:\n" + read_file(dir_ + "/sshd.out") +
                               log_text());
    }
    // sshd writes its PidFile once it listens.
    const std::string pid_text = read_file(pid_file);
    if (!pid_text.empty() && pid_text.back() == '\n') {
      if (std::stoi(pid_text) != child) {
        throw std::runtime_error("sshd wrote PID " + pid_text + " to " + pid_file + ", not " +
                                 std::to_string(child));
      }
      if (accepts_connections(port_)) {
        std::lock_guard lock(listeners_mutex);
        listeners.insert(child);
        return true;
      }
    }
    if (steady_clock::now() > deadline) {
      throw std::runtime_error("sshd did not come up on port " + std::to_string(port_) + ":\n" +
                               log_text());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void SshdFixture::stop_sshd() {
  if (pid_ <= 0) return;
  // Our child, and its PID was checked against the PidFile: being unreaped, it cannot have
  // been reused. Each connection has sshd processes of its own, which end when the client
  // disconnects: wait for them too, so that no test leaves an sshd behind.
  stop_tree(std::exchange(pid_, -1));
}

}  // namespace arsync::sshtest
