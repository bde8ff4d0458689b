// End-to-end test harness for arsync.
//
// The program under test is taken from $ARSYNC_TEST_BIN, else from the compile
// definition ARSYNC_BIN. Real rsync (/usr/bin/rsync) is the oracle: most tests run both
// programs on identical inputs and compare the resulting trees field by field, so that
// running the suite with ARSYNC_TEST_BIN=/usr/bin/rsync proves the tests themselves right.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace e2e {

// ---------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------

// Path of the program under test.
std::string programUnderTest();
// Path of the oracle (real rsync).
std::string oraclePath();
// True when the program under test is rsync itself (used to skip arsync-only tests).
bool testingRealRsync();
bool isRoot();

// Tests that check arsync guarantees rsync does not give.
#define E2E_SKIP_IF_TESTING_RSYNC()                                                   \
  do {                                                                                \
    if (::e2e::testingRealRsync()) GTEST_SKIP() << "arsync-only test; rsync differs"; \
  } while (0)

#define E2E_REQUIRE_ROOT(why)                                        \
  do {                                                               \
    if (!::e2e::isRoot()) GTEST_SKIP() << "needs root to " << (why); \
  } while (0)

// ---------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------

struct RunOptions {
  std::string cwd;                           // empty: inherit
  mode_t umask = 022;                        // fixed so results are reproducible
  std::chrono::milliseconds timeout{30000};  // the whole process group is killed after
  std::vector<std::string> prefix;           // e.g. setpriv ... to drop privileges
};

struct RunResult {
  int exit_code = -1;   // -1 if killed by a signal
  int term_signal = 0;  // signal that killed it, 0 if it exited
  bool timed_out = false;
  std::string out;
  std::string err;
  // One-line-ish description for assertion messages.
  std::string describe() const;
};

// A started child process. stdout/stderr go to memory files (never block the child).
// The child leads its own process group so that it and its helpers can be signalled
// and waited for as a whole.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const RunOptions& opts);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // Sends `sig` to the leader only (like `kill PID`).
  void signal(int sig) const;
  // Sends `sig` to the whole process group.
  void signalGroup(int sig) const;
  // True while the leader has not exited.
  bool running();
  // Waits for the leader and for every other member of its process group to end.
  RunResult wait();

 private:
  void reapGroup(std::chrono::steady_clock::time_point deadline);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  bool timed_out_ = false;
  std::chrono::steady_clock::time_point deadline_;
};

// Runs argv[0] (a path; no shell, no PATH search) and waits for it.
RunResult runCommand(const std::vector<std::string>& argv, const RunOptions& opts = {});

// Prefix that runs a command as user/group nobody (65534) with no supplementary groups.
std::vector<std::string> asNobody();
constexpr uid_t kNobody = 65534;

// ---------------------------------------------------------------------------
// Output helpers
// ---------------------------------------------------------------------------

std::vector<std::string> splitLines(const std::string& text);
std::vector<std::string> sorted(std::vector<std::string> v);
// Lines in rsync's --itemize-changes format ("YXcstpoguax name" or "*deleting   name"),
// sorted: a parallel tool may print them in any order.
std::vector<std::string> itemizeLines(const std::string& out);
// All non-summary lines of -v output, sorted (drops "sending ...", "sent ...",
// "total size is ..." and blank lines).
std::vector<std::string> verboseNameLines(const std::string& out);
bool contains(const std::string& haystack, const std::string& needle);
// The number on --stats' line that starts with `field` ("Literal data:"), without its
// thousands commas; -1 when there is no such line.
long long statValue(const std::string& out, const std::string& field);
// A whole file's bytes ("" if it cannot be read).
std::string readFile(const std::string& path);
// Compares two sorted line sets; on failure lists only the missing and unexpected lines.
::testing::AssertionResult sameLines(const std::vector<std::string>& expected,
                                     const std::vector<std::string>& actual);
// Makes arbitrary bytes printable for assertion messages.
std::string printable(const std::string& s);
std::string joinLines(const std::vector<std::string>& lines);
std::string joinPaths(const std::set<std::string>& paths);

// ---------------------------------------------------------------------------
// Building trees
// ---------------------------------------------------------------------------

timespec ts(time_t sec, long nsec = 0);

// Creates entries under `root`. Every file gets a distinct deterministic mtime with
// nonzero nanoseconds unless one is given. Directory modes and mtimes are applied by
// finish() (deepest first, because creating entries changes the parent's mtime and a
// read-only dir could not be filled), so the whole tree is reproducible.
class TreeBuilder {
 public:
  explicit TreeBuilder(std::string root);
  ~TreeBuilder();

  TreeBuilder& file(const std::string& rel, const std::string& content, mode_t mode = 0644,
                    std::optional<timespec> mtime = std::nullopt);
  TreeBuilder& dir(const std::string& rel, mode_t mode = 0755,
                   std::optional<timespec> mtime = std::nullopt);
  TreeBuilder& symlink(const std::string& rel, const std::string& target,
                       std::optional<timespec> mtime = std::nullopt);
  TreeBuilder& hardlink(const std::string& existing_rel, const std::string& new_rel);
  TreeBuilder& fifo(const std::string& rel, mode_t mode = 0644);
  // type is S_IFCHR or S_IFBLK; root only.
  TreeBuilder& device(const std::string& rel, mode_t type, dev_t rdev, mode_t mode = 0640);
  // `apparent` bytes long, holes everywhere except the given (offset, data) chunks.
  TreeBuilder& sparse(const std::string& rel, off_t apparent,
                      const std::vector<std::pair<off_t, std::string>>& chunks, mode_t mode = 0644);
  // lchown; re-applies the mode afterwards because chown clears set-id bits.
  TreeBuilder& owner(const std::string& rel, uid_t uid, gid_t gid);
  TreeBuilder& mtime(const std::string& rel, timespec t);

  void finish();

 private:
  std::string abs(const std::string& rel) const;
  void parents(const std::string& rel);
  timespec nextTime();

  std::string root_;
  std::map<std::string, std::pair<mode_t, std::optional<timespec>>> dirs_;
  std::map<std::string, mode_t> modes_;
  int counter_ = 0;
  bool finished_ = false;
};

// Writes `size` bytes of a deterministic pseudo-random pattern derived from `seed`.
void writePatternFile(const std::string& path, off_t size, uint64_t seed);

// Names used by the tricky tree, exposed so tests can poke at specific entries.
namespace tricky {
extern const char* const kSparse;  // 64 MiB apparent, a few KiB of data
extern const char* const kReadOnlyDir;
extern const char* const kOwned;     // chowned to 12345:12345 when root
extern const char* const kDeepLeaf;  // leaf of the 40-level chain
extern const char* const kHardA;     // hardlink group members
extern const char* const kHardB;
extern const char* const kHardC;
}  // namespace tricky

// Everything that tends to break file copiers; see harness.cpp for the list.
void buildTrickyTree(const std::string& root);

// ---------------------------------------------------------------------------
// Snapshots and comparison
// ---------------------------------------------------------------------------

struct Entry {
  mode_t type = 0;   // S_IFMT bits
  mode_t perms = 0;  // 07777 bits
  off_t size = 0;
  uint64_t content_hash = 0;  // regular files only
  bool content_read = false;
  timespec mtime{};
  timespec ctime{};
  uid_t uid = 0;
  gid_t gid = 0;
  std::string link_target;
  dev_t rdev = 0;
  dev_t dev = 0;
  ino_t ino = 0;
  blkcnt_t blocks = 0;
  // Smallest path (within the same snapshot) sharing this inode; empty if none.
  std::string hardlink_leader;
};

// Keyed by path relative to the root; the root itself is ".". Empty if root is missing.
using Snapshot = std::map<std::string, Entry>;
Snapshot snapshot(const std::string& root);

struct CompareOptions {
  bool content = true;
  bool perms = true;
  bool owner = isRoot();  // only root can give files away
  bool file_mtime = true;
  bool dir_mtime = true;
  bool link_mtime = true;
  bool root_dir_mtime = true;  // mtime of "." (false when it is not a copy of a source dir)
  bool hardlinks = true;
  // Also require same inode and ctime: "this entry was not touched at all".
  bool identity = false;
  bool identity_dir_ctime = true;  // with `identity`: also require dirs' ctime unchanged
  // Paths for which only existence is compared (nothing else).
  std::function<bool(const std::string&)> ignore_fields;
  // Paths skipped entirely.
  std::function<bool(const std::string&)> skip;

  static CompareOptions noTimes() {
    CompareOptions o;
    o.file_mtime = o.dir_mtime = o.link_mtime = false;
    return o;
  }
};

// Empty string if equal, else a description of the first difference found.
std::string firstDifference(const Snapshot& expected, const Snapshot& actual,
                            const CompareOptions& opts = {});
::testing::AssertionResult sameTree(const std::string& expected_root,
                                    const std::string& actual_root,
                                    const CompareOptions& opts = {});
::testing::AssertionResult sameSnapshot(const Snapshot& expected, const Snapshot& actual,
                                        const CompareOptions& opts = {});

// Paths (relative, sorted) present in the tree, excluding ".".
std::set<std::string> pathsIn(const std::string& root);

// Recursively removes a tree, making directories writable first.
void removeTree(const std::string& path);

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

// Each test gets a private directory:
//   <root>/src  the source tree (tests build it)
//   <root>/t    working dir for the program under test
//   <root>/o    working dir for the oracle
// runBoth() runs both programs with identical (relative) arguments from t/ and o/,
// so their outputs are textually comparable and their results land in t/<dst> and
// o/<dst>.
class E2ETest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::string path(const std::string& rel) const { return root_ + "/" + rel; }
  std::string src() const { return path("src"); }
  // Paths inside the working dirs of the program under test and of the oracle.
  std::string inTool(const std::string& rel) const { return path("t/" + rel); }
  std::string inOracle(const std::string& rel) const { return path("o/" + rel); }

  // Runs the program under test; cwd defaults to t/.
  RunResult tool(const std::vector<std::string>& args, RunOptions opts = {});
  // Runs real rsync; cwd defaults to o/.
  RunResult oracle(const std::vector<std::string>& args, RunOptions opts = {});

  struct Both {
    RunResult tool;
    RunResult oracle;
  };
  Both runBoth(const std::vector<std::string>& args, const RunOptions& opts = {});
  // Applies `prepare` to t/ and o/ (to give both destinations the same initial state).
  void prepareBoth(const std::function<void(const std::string& workdir)>& prepare);

  // Asserts same exit code and same resulting tree at <workdir>/<dst> for both.
  void expectSameAsOracle(const Both& both, const std::string& dst,
                          const CompareOptions& opts = {});

  std::string root_;
};

}  // namespace e2e
