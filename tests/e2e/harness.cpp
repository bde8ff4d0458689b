#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef ARSYNC_BIN
#define ARSYNC_BIN "arsync"
#endif

namespace e2e {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

std::string baseName(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string readAll(int fd) {
  std::string data;
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return data;
}

void sleepMs(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// Helpers of the program under test (rsync forks two) may outlive the process we
// started; becoming their subreaper lets us reap them and know when they are gone,
// even in containers whose init does not reap.
void becomeSubreaper() {
  static const bool done = [] {
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    return true;
  }();
  (void)done;
}

}  // namespace

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

std::string programUnderTest() {
  const char* env = std::getenv("ARSYNC_TEST_BIN");
  return env && *env ? env : ARSYNC_BIN;
}

std::string oraclePath() {
  return "/usr/bin/rsync";
}

bool testingRealRsync() {
  return baseName(programUnderTest()) == "rsync";
}

bool isRoot() {
  return geteuid() == 0;
}

std::vector<std::string> asNobody() {
  return {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
}

// ---------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------

std::string RunResult::describe() const {
  std::ostringstream os;
  if (timed_out) os << "TIMED OUT; ";
  if (term_signal)
    os << "killed by signal " << term_signal;
  else
    os << "exit code " << exit_code;
  auto clip = [](const std::string& s) {
    return printable(s.size() > 2000 ? s.substr(0, 2000) + "..." : s);
  };
  os << "\n--- stderr:\n" << clip(err) << "\n--- stdout:\n" << clip(out);
  return os.str();
}

Child::Child(const std::vector<std::string>& argv, const RunOptions& opts) {
  becomeSubreaper();
  std::vector<std::string> full = opts.prefix;
  full.insert(full.end(), argv.begin(), argv.end());
  if (full.empty()) throw std::runtime_error("empty argv");
  // Everything the child needs is prepared before fork: only async-signal-safe calls
  // happen in between fork and exec.
  std::vector<char*> cargv;
  for (auto& a : full) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const char* cwd = opts.cwd.empty() ? nullptr : opts.cwd.c_str();
  const mode_t mask = opts.umask;

  out_fd_ = memfd_create("stdout", MFD_CLOEXEC);
  err_fd_ = memfd_create("stderr", MFD_CLOEXEC);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  check(out_fd_ >= 0 && err_fd_ >= 0 && devnull >= 0, "memfd_create/open");

  pid_ = fork();
  check(pid_ >= 0, "fork");
  if (pid_ == 0) {
    setpgid(0, 0);
    if (cwd && chdir(cwd) != 0) _exit(126);
    umask(mask);
    dup2(devnull, 0);
    dup2(out_fd_, 1);
    dup2(err_fd_, 2);
    execv(cargv[0], cargv.data());
    static const char msg[] = "e2e harness: execv failed\n";
    ssize_t ignored = write(2, msg, sizeof msg - 1);
    (void)ignored;
    _exit(127);
  }
  setpgid(pid_, pid_);  // also in the parent, so signalGroup() works immediately
  close(devnull);
  deadline_ = std::chrono::steady_clock::now() + opts.timeout;
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    reaped_ = true;
    reapGroup(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void Child::signal(int sig) const {
  kill(pid_, sig);
}

void Child::signalGroup(int sig) const {
  kill(-pid_, sig);
}

bool Child::running() {
  if (reaped_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

void Child::reapGroup(std::chrono::steady_clock::time_point deadline) {
  bool killed = false;
  for (;;) {
    while (waitpid(-pid_, nullptr, WNOHANG) > 0) {
    }
    if (kill(-pid_, 0) != 0 && errno == ESRCH) return;
    if (std::chrono::steady_clock::now() > deadline) {
      if (killed) return;  // unkillable (e.g. stuck in the kernel): give up waiting
      timed_out_ = true;
      kill(-pid_, SIGKILL);
      killed = true;
      deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    }
    sleepMs(1);
  }
}

RunResult Child::wait() {
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline_) {
      timed_out_ = true;
      kill(-pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      reaped_ = true;
      break;
    }
    sleepMs(1);
  }
  reapGroup(std::max(deadline_, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  RunResult r;
  r.timed_out = timed_out_;
  if (WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) r.term_signal = WTERMSIG(status_);
  r.out = readAll(out_fd_);
  r.err = readAll(err_fd_);
  return r;
}

RunResult runCommand(const std::vector<std::string>& argv, const RunOptions& opts) {
  Child child(argv, opts);
  return child.wait();
}

// ---------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::string::size_type start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<std::string> itemizeLines(const std::string& out) {
  std::vector<std::string> result;
  for (const auto& line : splitLines(out)) {
    bool deleting = line.rfind("*deleting ", 0) == 0;
    bool item = line.size() > 12 && line[11] == ' ' && std::strchr("<>ch.", line[0]) &&
                std::strchr("fdLDS", line[1]);
    if (deleting || item) result.push_back(line);
  }
  return sorted(result);
}

std::vector<std::string> verboseNameLines(const std::string& out) {
  std::vector<std::string> result;
  for (const auto& line : splitLines(out)) {
    if (line.empty() || line.rfind("sending ", 0) == 0 || line.rfind("sent ", 0) == 0 ||
        line.rfind("total size is", 0) == 0)
      continue;
    result.push_back(line);
  }
  return sorted(result);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

long long statValue(const std::string& out, const std::string& field) {
  for (const auto& line : splitLines(out)) {
    if (line.rfind(field, 0) != 0) continue;
    std::string digits;
    for (char c : line.substr(field.size())) {
      if (c >= '0' && c <= '9') digits += c;
      if (c == 'b') break;  // "bytes"
    }
    return digits.empty() ? -1 : std::stoll(digits);
  }
  return -1;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

::testing::AssertionResult sameLines(const std::vector<std::string>& expected,
                                     const std::vector<std::string>& actual) {
  std::vector<std::string> missing, unexpected;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(unexpected));
  if (missing.empty() && unexpected.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "output lines differ from rsync's\n--- missing:\n"
                                       << joinLines(missing) << "--- unexpected:\n"
                                       << joinLines(unexpected);
}

std::string printable(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c == '\n' || c == '\t' || (c >= 0x20 && c < 0x7f)) {
      r += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      r += buf;
    }
  }
  return r;
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string r;
  for (const auto& l : lines) r += printable(l) + "\n";
  return r;
}

std::string joinPaths(const std::set<std::string>& paths) {
  return joinLines(std::vector<std::string>(paths.begin(), paths.end()));
}

// ---------------------------------------------------------------------------
// Building trees
// ---------------------------------------------------------------------------

timespec ts(time_t sec, long nsec) {
  timespec t{};
  t.tv_sec = sec;
  t.tv_nsec = nsec;
  return t;
}

namespace {

void setTime(const std::string& p, timespec t) {
  timespec times[2] = {t, t};
  check(utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0, "utimensat " + p);
}

void mkdirs(const std::string& p) {
  if (p.empty()) return;
  struct stat st;
  if (lstat(p.c_str(), &st) == 0) return;
  auto slash = p.find_last_of('/');
  if (slash != std::string::npos && slash > 0) mkdirs(p.substr(0, slash));
  check(mkdir(p.c_str(), 0755) == 0 || errno == EEXIST, "mkdir " + p);
}

void writeAll(int fd, const char* data, size_t len, const std::string& what) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    check(n > 0, "write " + what);
    data += n;
    len -= static_cast<size_t>(n);
  }
}

// Deterministic, path-derived default time for directories.
timespec defaultDirTime(const std::string& rel) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : rel) h = (h ^ c) * 1099511628211ull;
  return ts(1400000000 + static_cast<time_t>(h % 1000000), static_cast<long>(h % 999999999) + 1);
}

void collectDirs(const std::string& abs, const std::string& rel, std::vector<std::string>& out) {
  out.push_back(rel);
  DIR* d = opendir(abs.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child = abs + "/" + name;
    struct stat st;
    if (lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      collectDirs(child, rel == "." ? name : rel + "/" + name, out);
  }
  closedir(d);
}

}  // namespace

TreeBuilder::TreeBuilder(std::string root) : root_(std::move(root)) {
  mkdirs(root_);
}

TreeBuilder::~TreeBuilder() {
  if (!finished_) {
    try {
      finish();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "TreeBuilder::finish: " << e.what();
    }
  }
}

std::string TreeBuilder::abs(const std::string& rel) const {
  return rel == "." ? root_ : root_ + "/" + rel;
}

void TreeBuilder::parents(const std::string& rel) {
  auto slash = rel.find_last_of('/');
  if (slash != std::string::npos) mkdirs(abs(rel.substr(0, slash)));
}

timespec TreeBuilder::nextTime() {
  ++counter_;
  // Distinct seconds and nonzero nanoseconds, so lost precision is visible.
  return ts(1500000000 + counter_ * 3607, (counter_ * 123456791L) % 1000000000L + 1);
}

TreeBuilder& TreeBuilder::file(const std::string& rel, const std::string& content, mode_t mode,
                               std::optional<timespec> mtime) {
  parents(rel);
  std::string p = abs(rel);
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  check(fd >= 0, "create " + printable(p));
  writeAll(fd, content.data(), content.size(), p);
  close(fd);
  check(chmod(p.c_str(), mode) == 0, "chmod " + p);
  modes_[rel] = mode;
  setTime(p, mtime.value_or(nextTime()));
  return *this;
}

TreeBuilder& TreeBuilder::dir(const std::string& rel, mode_t mode, std::optional<timespec> mtime) {
  mkdirs(abs(rel));
  dirs_[rel] = {mode, mtime};
  return *this;
}

TreeBuilder& TreeBuilder::symlink(const std::string& rel, const std::string& target,
                                  std::optional<timespec> mtime) {
  parents(rel);
  std::string p = abs(rel);
  check(::symlink(target.c_str(), p.c_str()) == 0, "symlink " + p);
  setTime(p, mtime.value_or(nextTime()));
  return *this;
}

TreeBuilder& TreeBuilder::hardlink(const std::string& existing_rel, const std::string& new_rel) {
  parents(new_rel);
  check(::link(abs(existing_rel).c_str(), abs(new_rel).c_str()) == 0, "link " + new_rel);
  return *this;
}

TreeBuilder& TreeBuilder::fifo(const std::string& rel, mode_t mode) {
  parents(rel);
  std::string p = abs(rel);
  check(mkfifo(p.c_str(), 0600) == 0, "mkfifo " + p);
  check(chmod(p.c_str(), mode) == 0, "chmod " + p);
  modes_[rel] = mode;
  setTime(p, nextTime());
  return *this;
}

TreeBuilder& TreeBuilder::device(const std::string& rel, mode_t type, dev_t rdev, mode_t mode) {
  parents(rel);
  std::string p = abs(rel);
  check(mknod(p.c_str(), type | 0600, rdev) == 0, "mknod " + p);
  check(chmod(p.c_str(), mode) == 0, "chmod " + p);
  modes_[rel] = mode;
  setTime(p, nextTime());
  return *this;
}

TreeBuilder& TreeBuilder::sparse(const std::string& rel, off_t apparent,
                                 const std::vector<std::pair<off_t, std::string>>& chunks,
                                 mode_t mode) {
  parents(rel);
  std::string p = abs(rel);
  int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  check(fd >= 0, "create " + p);
  check(ftruncate(fd, apparent) == 0, "ftruncate " + p);
  for (const auto& [off, data] : chunks)
    check(pwrite(fd, data.data(), data.size(), off) == static_cast<ssize_t>(data.size()),
          "pwrite " + p);
  close(fd);
  check(chmod(p.c_str(), mode) == 0, "chmod " + p);
  modes_[rel] = mode;
  setTime(p, nextTime());
  return *this;
}

TreeBuilder& TreeBuilder::owner(const std::string& rel, uid_t uid, gid_t gid) {
  std::string p = abs(rel);
  struct stat st;
  check(lstat(p.c_str(), &st) == 0, "lstat " + p);
  check(lchown(p.c_str(), uid, gid) == 0, "lchown " + p);
  if (!S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode)) {
    auto it = modes_.find(rel);
    check(chmod(p.c_str(), it != modes_.end() ? it->second : (st.st_mode & 07777)) == 0,
          "chmod " + p);
  }
  return *this;
}

TreeBuilder& TreeBuilder::mtime(const std::string& rel, timespec t) {
  struct stat st;
  if (lstat(abs(rel).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    dirs_[rel].second = t;  // applied by finish(), after the dir's content is final
    if (dirs_[rel].first == 0) dirs_[rel].first = st.st_mode & 07777;
  } else {
    setTime(abs(rel), t);
  }
  return *this;
}

void TreeBuilder::finish() {
  finished_ = true;
  std::vector<std::string> all;
  collectDirs(root_, ".", all);
  // Deepest first: fixing a child's mtime does not touch the parent's, but
  // chmod 0555 on a parent would stop us from fixing its children as non-root.
  std::stable_sort(all.begin(), all.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  for (const auto& rel : all) {
    std::string p = abs(rel);
    auto it = dirs_.find(rel);
    if (it != dirs_.end() && it->second.first != 0)
      check(chmod(p.c_str(), it->second.first) == 0, "chmod " + p);
    timespec t = defaultDirTime(rel);
    if (it != dirs_.end() && it->second.second) t = *it->second.second;
    setTime(p, t);
  }
}

void writePatternFile(const std::string& path, off_t size, uint64_t seed) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  check(fd >= 0, "create " + path);
  std::vector<uint64_t> buf(1 << 17);  // 1 MiB
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  off_t left = size;
  while (left > 0) {
    for (auto& w : buf) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      w = x;
    }
    size_t n = static_cast<size_t>(std::min<off_t>(left, buf.size() * sizeof(uint64_t)));
    writeAll(fd, reinterpret_cast<const char*>(buf.data()), n, path);
    left -= static_cast<off_t>(n);
  }
  close(fd);
}

namespace tricky {
const char* const kSparse = "sparse.img";
const char* const kReadOnlyDir = "readonly";
const char* const kOwned = "owned";
const char* const kDeepLeaf =
    "deep/d01/d02/d03/d04/d05/d06/d07/d08/d09/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/d20/"
    "d21/d22/d23/d24/d25/d26/d27/d28/d29/d30/d31/d32/d33/d34/d35/d36/d37/d38/d39/d40/leaf.txt";
const char* const kHardA = "hard/a";
const char* const kHardB = "hard/b";
const char* const kHardC = "hard-c";
}  // namespace tricky

void buildTrickyTree(const std::string& root) {
  if (!isRoot()) std::printf("note: not root, so no device nodes or foreign owners in the tree\n");
  TreeBuilder b(root);
  b.file("plain.txt", "hello\n");
  // Names a shell, a glob or an option parser would mangle.
  b.file("with space.txt", "spaces\n");
  b.file(" leading space", "x\n");
  b.file("new\nline", "newline in name\n");
  b.file("-rf", "dash\n");
  b.file("--delete", "dashdash\n");
  b.file("glob*?[]{}", "glob\n");
  b.file("[ab].txt", "bracket\n");
  b.file("{x,y}.txt", "brace\n");
  b.file("back\\slash", "backslash\n");
  b.file("\xff\xfe.bin", std::string("\0\1\2binary\xff", 10));
  b.file("tab\there", "tab\n");
  b.file(std::string(251, 'n') + ".txt", "longest name\n");  // 255 bytes
  // 40-level chain.
  b.file(tricky::kDeepLeaf, "deep\n");
  // Empty directories (also nested).
  b.dir("empty");
  b.dir("nested/empty/inner");
  // Symlinks: relative, absolute, dangling, to a dir, pointing up, with odd target.
  b.symlink("link-rel", "plain.txt");
  b.symlink("link-abs", "/etc/passwd");
  b.symlink("link-dangling", "does/not/exist");
  b.symlink("link-dir", "deep");
  b.symlink("sub/link-up", "../plain.txt");
  b.symlink("link-odd", "-rf with\nnewline");
  // Hardlinks: a group of 3 across directories and a pair.
  b.file(tricky::kHardA, "shared by three names\n");
  b.hardlink(tricky::kHardA, tricky::kHardB);
  b.hardlink(tricky::kHardA, tricky::kHardC);
  b.file("sub/pair1", "pair\n");
  b.hardlink("sub/pair1", "sub/pair2");
  // Specials.
  b.fifo("fifo");
  if (isRoot()) {
    b.device("chardev", S_IFCHR, makedev(1, 3));
    b.device("blockdev", S_IFBLK, makedev(7, 200), 0660);
  }
  // Sparse: 64 MiB apparent, 4 KiB of data.
  b.sparse(tricky::kSparse, 64 << 20,
           {{0, std::string(1024, 'A')},
            {(1 << 20) + 17, std::string(1024, 'B')},
            {33 << 20, std::string(1024, 'C')},
            {(64 << 20) - 1024, std::string(1024, 'D')}});
  // Zero-length files.
  b.file("zero", "");
  b.file("sub/zero", "");
  // Explicit nanosecond mtime; and one with zero nanoseconds.
  b.file("ns.txt", "ns\n", 0644, ts(1234567890, 987654321));
  b.file("whole-second.txt", "s\n", 0644, ts(1234567890, 0));
  // Modes.
  b.file("mode0600", "600\n", 0600);
  b.file("mode0755", "755\n", 0755);
  b.file("mode4755", "suid\n", 04755);
  b.file("mode2755", "sgid\n", 02755);
  b.file("mode0444", "readonly\n", 0444);
  b.dir("mode0700dir", 0700);
  b.file("mode0700dir/inside", "in\n");
  b.dir("sticky", 01777);
  // Read-only directory with content.
  b.file(std::string(tricky::kReadOnlyDir) + "/a", "a\n");
  b.file(std::string(tricky::kReadOnlyDir) + "/sub/b", "b\n");
  b.dir(tricky::kReadOnlyDir, 0555);
  // Foreign owners (root only).
  if (isRoot()) {
    b.file(tricky::kOwned, "owned\n", 0640);
    b.owner(tricky::kOwned, 12345, 12345);
    b.file("owned-suid", "suid owned\n", 04750);
    b.owner("owned-suid", 12345, 54321);
    b.symlink("owned-link", "plain.txt");
    b.owner("owned-link", 23456, 23457);
    b.dir("owned-dir");
    b.file("owned-dir/f", "f\n");
    b.owner("owned-dir", 12345, 54321);
  }
  b.finish();
}

// ---------------------------------------------------------------------------
// Snapshots and comparison
// ---------------------------------------------------------------------------

namespace {

uint64_t hashFile(const std::string& p, bool& ok) {
  ok = false;
  int fd = open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  std::vector<char> buf(1 << 20);
  uint64_t h = 0x243F6A8885A308D3ull;
  off_t off = 0;
  for (;;) {
    // Fill the buffer fully so every chunk but the last is a multiple of 8 bytes.
    size_t have = 0;
    while (have < buf.size()) {
      ssize_t n = pread(fd, buf.data() + have, buf.size() - have, off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      have += static_cast<size_t>(n);
      off += n;
    }
    size_t i = 0;
    for (; i + 8 <= have; i += 8) {
      uint64_t w;
      std::memcpy(&w, buf.data() + i, 8);
      h = (h ^ w) * 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
    }
    for (; i < have; ++i) h = (h ^ static_cast<unsigned char>(buf[i])) * 0x100000001B3ull;
    if (have < buf.size()) break;
  }
  close(fd);
  ok = true;
  return h ^ static_cast<uint64_t>(off);
}

void walk(const std::string& abs, const std::string& rel, Snapshot& snap) {
  struct stat st;
  if (lstat(abs.c_str(), &st) != 0) return;
  Entry e;
  e.type = st.st_mode & S_IFMT;
  e.perms = st.st_mode & 07777;
  e.size = st.st_size;
  e.mtime = st.st_mtim;
  e.ctime = st.st_ctim;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.dev = st.st_dev;
  e.ino = st.st_ino;
  e.blocks = st.st_blocks;
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) e.rdev = st.st_rdev;
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = readlink(abs.c_str(), target.data(), target.size());
    if (n >= 0) target.resize(static_cast<size_t>(n));
    e.link_target = target;
  }
  if (S_ISREG(st.st_mode)) e.content_hash = hashFile(abs, e.content_read);
  snap[rel] = e;
  if (!S_ISDIR(st.st_mode)) return;
  DIR* d = opendir(abs.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* de = readdir(d)) {
    std::string name = de->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  for (const auto& name : names) walk(abs + "/" + name, rel == "." ? name : rel + "/" + name, snap);
}

std::string typeName(mode_t t) {
  switch (t) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    case S_IFSOCK:
      return "socket";
    default:
      return "unknown";
  }
}

std::string fmtTime(timespec t) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld.%09ld", static_cast<long long>(t.tv_sec), t.tv_nsec);
  return buf;
}

std::string fmtMode(mode_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(m));
  return buf;
}

bool sameTime(timespec a, timespec b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

}  // namespace

Snapshot snapshot(const std::string& root) {
  Snapshot snap;
  walk(root, ".", snap);
  // Hardlink groups: paths of this snapshot sharing an inode.
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> groups;
  for (const auto& [rel, e] : snap)
    if (e.type != S_IFDIR) groups[{e.dev, e.ino}].push_back(rel);
  for (const auto& [key, members] : groups) {
    if (members.size() < 2) continue;
    for (const auto& m : members) snap[m].hardlink_leader = members.front();  // map: sorted
  }
  return snap;
}

std::string firstDifference(const Snapshot& expected, const Snapshot& actual,
                            const CompareOptions& opts) {
  std::set<std::string> paths;
  for (const auto& kv : expected) paths.insert(kv.first);
  for (const auto& kv : actual) paths.insert(kv.first);
  for (const auto& p : paths) {
    if (opts.skip && opts.skip(p)) continue;
    auto ei = expected.find(p);
    auto ai = actual.find(p);
    // ostringstream rather than string operator+ chains: g++ 12 -O3 warns falsely
    // (-Wrestrict) about those.
    auto note = [&](const std::string& what) {
      std::ostringstream os;
      os << "'" << printable(p) << "': " << what;
      return os.str();
    };
    auto differ = [&](const char* field, const std::string& want, const std::string& got) {
      std::ostringstream os;
      os << field << " " << want << " vs " << got;
      return note(os.str());
    };
    auto quote = [](const std::string& s) {
      std::ostringstream os;
      os << "'" << printable(s) << "'";
      return os.str();
    };
    auto owner = [](const Entry& x) {
      std::ostringstream os;
      os << x.uid << ":" << x.gid;
      return os.str();
    };
    if (ai == actual.end()) return note("missing (expected " + typeName(ei->second.type) + ")");
    if (ei == expected.end()) return note("unexpected " + typeName(ai->second.type));
    const Entry& e = ei->second;
    const Entry& a = ai->second;
    if (e.type != a.type) return differ("type", typeName(e.type), typeName(a.type));
    if (opts.ignore_fields && opts.ignore_fields(p)) continue;
    if (opts.identity) {
      if (e.ino != a.ino) return note("inode changed (entry was replaced)");
      if (!sameTime(e.ctime, a.ctime) && (e.type != S_IFDIR || opts.identity_dir_ctime))
        return differ("ctime (entry was modified)", fmtTime(e.ctime), fmtTime(a.ctime));
    }
    if (e.type == S_IFREG) {
      if (e.size != a.size) return differ("size", std::to_string(e.size), std::to_string(a.size));
      if (opts.content && e.content_read && a.content_read && e.content_hash != a.content_hash)
        return note("content differs");
      if (opts.content && e.content_read != a.content_read) return note("content unreadable");
    }
    if (e.type == S_IFLNK && e.link_target != a.link_target)
      return differ("symlink target", quote(e.link_target), quote(a.link_target));
    if (e.rdev != a.rdev) return differ("rdev", std::to_string(e.rdev), std::to_string(a.rdev));
    if (opts.perms && e.type != S_IFLNK && e.perms != a.perms)
      return differ("mode", fmtMode(e.perms), fmtMode(a.perms));
    bool check_time = e.type == S_IFDIR   ? opts.dir_mtime
                      : e.type == S_IFLNK ? opts.link_mtime
                                          : opts.file_mtime;
    if (p == ".") check_time = check_time && opts.root_dir_mtime;
    if (check_time && !sameTime(e.mtime, a.mtime))
      return differ("mtime", fmtTime(e.mtime), fmtTime(a.mtime));
    if (opts.owner && (e.uid != a.uid || e.gid != a.gid))
      return differ("owner", owner(e), owner(a));
    if (opts.hardlinks && e.hardlink_leader != a.hardlink_leader)
      return differ("hardlinked with", quote(e.hardlink_leader), quote(a.hardlink_leader));
  }
  return "";
}

::testing::AssertionResult sameSnapshot(const Snapshot& expected, const Snapshot& actual,
                                        const CompareOptions& opts) {
  std::string diff = firstDifference(expected, actual, opts);
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "trees differ (expected vs actual) at " << diff;
}

::testing::AssertionResult sameTree(const std::string& expected_root,
                                    const std::string& actual_root, const CompareOptions& opts) {
  auto r = sameSnapshot(snapshot(expected_root), snapshot(actual_root), opts);
  if (!r) r << "\n  expected tree: " << expected_root << "\n  actual tree:   " << actual_root;
  return r;
}

namespace {
// Names only: cheap enough to poll while a program is writing large files.
void listNames(const std::string& abs, const std::string& rel, std::set<std::string>& out) {
  DIR* d = opendir(abs.c_str());
  if (!d) return;
  std::vector<std::string> dirs;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string child_rel = rel.empty() ? name : rel + "/" + name;
    out.insert(child_rel);
    struct stat st;
    if (lstat((abs + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) dirs.push_back(name);
  }
  closedir(d);
  for (const auto& name : dirs)
    listNames(abs + "/" + name, rel.empty() ? name : rel + "/" + name, out);
}
}  // namespace

std::set<std::string> pathsIn(const std::string& root) {
  std::set<std::string> result;
  listNames(root, "", result);
  return result;
}

void removeTree(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    chmod(path.c_str(), 0700);  // read-only dirs: make their entries removable
    if (DIR* d = opendir(path.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(name);
      }
      closedir(d);
      for (const auto& n : names) removeTree(path + "/" + n);
    }
    rmdir(path.c_str());
  } else {
    unlink(path.c_str());
  }
}

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

void E2ETest::SetUp() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "." + info->name();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.') c = '_';
  std::string templ = "/tmp/arsync-e2e-" + name.substr(0, 100) + "-XXXXXX";
  check(mkdtemp(templ.data()) != nullptr, "mkdtemp");
  root_ = templ;
  // Traversable by others: some tests run the programs as user nobody.
  check(chmod(root_.c_str(), 0755) == 0, "chmod " + root_);
  check(mkdir(path("t").c_str(), 0755) == 0, "mkdir t");
  check(mkdir(path("o").c_str(), 0755) == 0, "mkdir o");
}

void E2ETest::TearDown() {
  if (HasFailure() && std::getenv("ARSYNC_E2E_KEEP")) {
    std::printf("keeping %s for inspection\n", root_.c_str());
    return;
  }
  removeTree(root_);
}

RunResult E2ETest::tool(const std::vector<std::string>& args, RunOptions opts) {
  if (opts.cwd.empty()) opts.cwd = path("t");
  std::vector<std::string> argv{programUnderTest()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, opts);
}

RunResult E2ETest::oracle(const std::vector<std::string>& args, RunOptions opts) {
  if (opts.cwd.empty()) opts.cwd = path("o");
  std::vector<std::string> argv{e2e::oraclePath()};
  argv.insert(argv.end(), args.begin(), args.end());
  return runCommand(argv, opts);
}

E2ETest::Both E2ETest::runBoth(const std::vector<std::string>& args, const RunOptions& opts) {
  Both b;
  b.tool = tool(args, opts);
  b.oracle = oracle(args, opts);
  return b;
}

void E2ETest::prepareBoth(const std::function<void(const std::string& workdir)>& prepare) {
  prepare(path("t"));
  prepare(path("o"));
}

void E2ETest::expectSameAsOracle(const Both& both, const std::string& dst,
                                 const CompareOptions& opts) {
  EXPECT_FALSE(both.tool.timed_out) << both.tool.describe();
  EXPECT_EQ(both.tool.exit_code, both.oracle.exit_code)
      << "program under test: " << both.tool.describe() << "\nrsync: " << both.oracle.describe();
  EXPECT_TRUE(sameTree(inOracle(dst), inTool(dst), opts));
}

}  // namespace e2e
