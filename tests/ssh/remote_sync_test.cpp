// Push and pull through a real OpenSSH server on 127.0.0.1 with the real binaries: the
// client logs in with libssh and runs arsync-helper, plain or as a ForceCommand.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/harness.h"
#include "tests/ssh/sshd_fixture.h"

namespace {

namespace fs = std::filesystem;
using arsync::sshtest::SshdFixture;

class RemoteSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = SshdFixture::unavailable_reason()) GTEST_SKIP() << *why;
    char tmpl[] = "/tmp/arsync-remote-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    fs::create_directories(base_ / "jail");
    sshd_ = std::make_unique<SshdFixture>(std::string(ARSYNC_HELPER_BIN) + " --root " +
                                          (base_ / "jail").string() + " --write-only");
  }
  void TearDown() override {
    sshd_.reset();
    if (!base_.empty()) e2e::removeTree(base_);
  }

  std::string rsh(const std::string& key) const {
    return "ssh -p " + std::to_string(sshd_->port()) + " -i " + key + " -l root" +
           " -o UserKnownHostsFile=" + sshd_->known_hosts_path() + " -o BatchMode=yes";
  }
  e2e::RunResult arsync(std::vector<std::string> args, const std::string& key) {
    std::vector<std::string> argv{ARSYNC_BIN, "-e", rsh(key), "--helper", ARSYNC_HELPER_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    return e2e::runCommand(argv);
  }
  std::string remote(const fs::path& p) const { return "127.0.0.1:" + p.string(); }

  fs::path base_;
  std::unique_ptr<SshdFixture> sshd_;
};

TEST_F(RemoteSyncTest, PushAndPullTheTrickyTree) {
  std::string src = (base_ / "src").string();
  e2e::buildTrickyTree(src);
  auto push = arsync({"-aH", src + "/", remote(base_ / "pushed") + "/"}, sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::sameTree(src, (base_ / "pushed").string()));
  auto pull = arsync({"-aH", remote(base_ / "pushed") + "/", (base_ / "pulled").string() + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::sameTree(src, (base_ / "pulled").string()));
}

TEST_F(RemoteSyncTest, DeleteOnTheRemoteSide) {
  fs::create_directories(base_ / "src/keep");
  std::ofstream(base_ / "src/keep/a") << "a";
  fs::create_directories(base_ / "dst/gone");
  std::ofstream(base_ / "dst/gone/x") << "x";
  std::ofstream(base_ / "dst/stray") << "s";
  auto r = arsync({"-a", "--delete", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
                  sshd_->plain_key_path());
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));
}

TEST_F(RemoteSyncTest, ForcedRootConfinesAndWriteOnlyRefusesPulls) {
  fs::create_directories(base_ / "src");
  std::ofstream(base_ / "src/f") << "data";
  std::string key = sshd_->forced_key_path();
  auto ok = arsync({"-a", (base_ / "src").string() + "/", "127.0.0.1:inside/"}, key);
  ASSERT_EQ(ok.exit_code, 0) << ok.describe();
  EXPECT_TRUE(fs::exists(base_ / "jail/inside/f"));

  for (std::string escape : {"127.0.0.1:../escaped/", "127.0.0.1:/etc/arsync-test/"}) {
    auto r = arsync({"-a", (base_ / "src").string() + "/", escape}, key);
    EXPECT_NE(r.exit_code, 0) << escape;
    EXPECT_TRUE(e2e::contains(r.err, "outside the permitted root")) << r.describe();
  }
  EXPECT_FALSE(fs::exists(base_ / "escaped"));
  EXPECT_FALSE(fs::exists("/etc/arsync-test"));

  fs::create_directory_symlink("/etc", base_ / "jail/etclink");
  auto via_link = arsync({"-a", (base_ / "src").string() + "/", "127.0.0.1:etclink/x/"}, key);
  EXPECT_NE(via_link.exit_code, 0);
  EXPECT_FALSE(fs::exists("/etc/x"));

  auto pull = arsync({"-a", "127.0.0.1:inside/", (base_ / "back").string() + "/"}, key);
  EXPECT_NE(pull.exit_code, 0);
  EXPECT_TRUE(e2e::contains(pull.err, "write-only")) << pull.describe();
  EXPECT_FALSE(fs::exists(base_ / "back/f"));
}

TEST_F(RemoteSyncTest, WrongKeyIsAnAuthenticationErrorWithExitCode255) {
  fs::create_directories(base_ / "src");
  auto r = arsync({"-a", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
                  sshd_->stranger_key_path());
  EXPECT_EQ(r.exit_code, 255) << r.describe();
  EXPECT_TRUE(e2e::contains(r.err, "Permission denied")) << r.describe();
}

TEST_F(RemoteSyncTest, MissingHelperIsNamed) {
  fs::create_directories(base_ / "src");
  std::vector<std::string> argv{ARSYNC_BIN,
                                "-e",
                                rsh(sshd_->plain_key_path()),
                                "--helper",
                                "/nonexistent/arsync-helper",
                                "-a",
                                (base_ / "src").string() + "/",
                                remote(base_ / "dst") + "/"};
  auto r = e2e::runCommand(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(e2e::contains(r.err, "not found on 127.0.0.1 (see --helper)")) << r.describe();
}

}  // namespace

namespace {

TEST_F(RemoteSyncTest, UnknownHostKeyWithoutATerminalIsRefused) {
  fs::create_directories(base_ / "src");
  std::string empty_known_hosts = (base_ / "known_hosts_empty").string();
  std::ofstream(empty_known_hosts).flush();
  std::vector<std::string> argv{ARSYNC_BIN,
                                "-e",
                                "ssh -p " + std::to_string(sshd_->port()) + " -i " +
                                    sshd_->plain_key_path() +
                                    " -l root -o UserKnownHostsFile=" + empty_known_hosts,
                                "--helper",
                                ARSYNC_HELPER_BIN,
                                "-a",
                                (base_ / "src").string() + "/",
                                remote(base_ / "dst") + "/"};
  auto r = e2e::runCommand(argv);  // stdin is not a terminal here
  EXPECT_EQ(r.exit_code, 255) << r.describe();
  EXPECT_FALSE(fs::exists(base_ / "dst"));

  argv.insert(argv.begin() + 1, "--accept-new-host-key");
  auto accepted = e2e::runCommand(argv);
  EXPECT_EQ(accepted.exit_code, 0) << accepted.describe();
  std::ifstream known(empty_known_hosts);
  std::string line;
  EXPECT_TRUE(std::getline(known, line) && !line.empty()) << "host key was not recorded";
}

TEST_F(RemoteSyncTest, HelperKilledMidTransferLeavesNoPartialFileAndARerunCompletes) {
  fs::create_directories(base_ / "src");
  e2e::writePatternFile((base_ / "src/big").string(), 256 << 20, 42);
  fs::create_directories(base_ / "dst");
  std::ofstream(base_ / "dst/big") << "previous version";
  // A helper under a name of this test's own, so that killing it spares the helpers of
  // tests running beside this one.
  fs::path own_helper = base_ / "killable-arsync-helper";
  fs::create_symlink(ARSYNC_HELPER_BIN, own_helper);
  std::vector<std::string> argv{
      ARSYNC_BIN,          "-e", rsh(sshd_->plain_key_path()),   "--helper",
      own_helper.string(), "-a", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"};
  e2e::Child client(argv, {});
  // Wait until the helper is writing the temporary file, then kill it.
  bool killed = false;
  for (int i = 0; i < 400 && !killed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    for (const auto& e : fs::directory_iterator(base_ / "dst")) {
      if (e.path().filename().string().starts_with(".big.")) {
        // The bracket keeps pkill from matching the shell that runs it.
        std::string path = own_helper.string();
        std::string pattern =
            path.substr(0, path.size() - 1) + "[" + path.back() + "] --server";  // not the client
        killed = std::system(("pkill -KILL -f '" + pattern + "'").c_str()) == 0;
        break;
      }
    }
  }
  auto r = client.wait();
  ASSERT_TRUE(killed) << "the helper was never seen writing";
  EXPECT_NE(r.exit_code, 0) << r.describe();
  EXPECT_FALSE(r.err.empty());
  std::ifstream old(base_ / "dst/big");
  std::string content((std::istreambuf_iterator<char>(old)), {});
  EXPECT_EQ(content, "previous version");  // never a partial file at the final name

  auto rerun = e2e::runCommand(argv);
  EXPECT_EQ(rerun.exit_code, 0) << rerun.describe();
  // A helper killed with SIGKILL cannot remove its temporary file (rsync leaves one too);
  // everything else must match.
  e2e::CompareOptions opts = e2e::CompareOptions::noTimes();
  opts.skip = [](const std::string& path) { return path.starts_with(".big."); };
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string(), opts));
}

TEST_F(RemoteSyncTest, ReadOnlyHelperRefusesAPush) {
  fs::create_directories(base_ / "src");
  std::ofstream(base_ / "src/f") << "x";
  std::vector<std::string> argv{ARSYNC_BIN,
                                "-e",
                                rsh(sshd_->plain_key_path()),
                                "--helper",
                                std::string(ARSYNC_HELPER_BIN) + " --read-only",
                                "-a",
                                (base_ / "src").string() + "/",
                                remote(base_ / "dst") + "/"};
  auto r = e2e::runCommand(argv);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(e2e::contains(r.err, "read-only")) << r.describe();
  EXPECT_FALSE(fs::exists(base_ / "dst/f"));
}

}  // namespace

namespace {

TEST_F(RemoteSyncTest, ItemizeAndStatsOfTheRemoteSideAreShownHere) {
  fs::create_directories(base_ / "src/d");
  std::ofstream(base_ / "src/d/f") << "hello";
  auto push =
      arsync({"-ai", "--stats", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
             sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::contains(push.out, ">f+++++++++ d/f")) << push.describe();
  EXPECT_TRUE(e2e::contains(push.out, "Number of regular files transferred: 1")) << push.out;

  auto pull = arsync({"-ai", remote(base_ / "dst") + "/", (base_ / "back").string() + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::contains(pull.out, ">f+++++++++ d/f")) << pull.out;

  fs::permissions(base_ / "dst/d/f", fs::perms::none);
  auto unreadable = arsync({"-a", remote(base_ / "dst") + "/", (base_ / "back2").string() + "/"},
                           sshd_->plain_key_path());
  // Root reads mode-000 files anyway; either way the run must finish and say why if not.
  EXPECT_TRUE(unreadable.exit_code == 0 || unreadable.exit_code == 23) << unreadable.describe();
}

TEST_F(RemoteSyncTest, PerFileErrorsOfTheRemoteSideReachTheClientAndTheRestLands) {
  fs::create_directories(base_ / "src/more");
  std::ofstream(base_ / "src/x") << "a file where the destination has a full directory";
  for (int i = 0; i < 5; ++i) std::ofstream(base_ / "src/more" / std::to_string(i)) << i;
  fs::create_directories(base_ / "dst/x/inner");
  std::ofstream(base_ / "dst/x/inner/keep") << "k";
  auto push = arsync({"-a", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
                     sshd_->plain_key_path());
  EXPECT_EQ(push.exit_code, 23) << push.describe();
  EXPECT_TRUE(e2e::contains(push.err, "127.0.0.1: arsync: cannot delete non-empty directory: x"))
      << push.describe();
  EXPECT_TRUE(fs::exists(base_ / "dst/x/inner/keep"));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(fs::exists(base_ / "dst/more" / std::to_string(i)));
}

// The last \r-separated piece of --progress output: the final line.
std::string final_progress_line(const std::string& out) {
  std::string line = out.substr(out.rfind('\r') + 1);
  return line.substr(0, line.find('\n'));
}

TEST_F(RemoteSyncTest, ProgressCountsWhatLandedOnEitherSide) {
  fs::create_directories(base_ / "src");
  for (int i = 0; i < 20; ++i) {
    std::ofstream(base_ / "src" / ("f" + std::to_string(i))) << std::string(50000, 'p');
  }
  // A push learns what landed from the helper's progress messages.
  auto push =
      arsync({"-a", "--progress", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
             sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  std::string line = final_progress_line(push.out);
  EXPECT_TRUE(e2e::contains(line, "1,000,000 ")) << line;
  EXPECT_TRUE(e2e::contains(line, "(files 20)")) << line;
  // A pull counts them here.
  auto pull =
      arsync({"-a", "--progress", remote(base_ / "dst") + "/", (base_ / "back").string() + "/"},
             sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  line = final_progress_line(pull.out);
  EXPECT_TRUE(e2e::contains(line, "1,000,000 ")) << line;
  EXPECT_TRUE(e2e::contains(line, "(files 20)")) << line;
}

}  // namespace

namespace {

TEST_F(RemoteSyncTest, HostAliasFromAnSshConfigFile) {
  fs::create_directories(base_ / "src");
  std::ofstream(base_ / "src/f") << "via alias";
  std::string config = (base_ / "ssh_config").string();
  std::ofstream(config) << "Host backup-alias\n"
                        << "  HostName 127.0.0.1\n"
                        << "  Port " << sshd_->port() << "\n"
                        << "  User root\n"
                        << "  IdentityFile " << sshd_->plain_key_path() << "\n"
                        << "  UserKnownHostsFile " << sshd_->known_hosts_path() << "\n";
  std::vector<std::string> argv{ARSYNC_BIN,
                                "-e",
                                "ssh -F " + config,
                                "--helper",
                                ARSYNC_HELPER_BIN,
                                "-a",
                                (base_ / "src").string() + "/",
                                "backup-alias:" + (base_ / "dst").string() + "/"};
  auto r = e2e::runCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(RemoteSyncTest, OneFileTakesTheDestinationsNameUnlessThatIsADirectory) {
  fs::create_directories(base_ / "src");
  std::ofstream(base_ / "src/report.txt") << "one file";
  fs::create_directories(base_ / "remote/existing-dir");
  const std::string key = sshd_->plain_key_path();
  const std::string file = (base_ / "src/report.txt").string();

  auto renamed = arsync({"-a", file, remote(base_ / "remote/copy.txt")}, key);
  ASSERT_EQ(renamed.exit_code, 0) << renamed.describe();
  EXPECT_EQ(read_text(base_ / "remote/copy.txt"), "one file");
  EXPECT_TRUE(fs::is_regular_file(base_ / "remote/copy.txt"));

  auto into_dir = arsync({"-a", file, remote(base_ / "remote/existing-dir")}, key);
  ASSERT_EQ(into_dir.exit_code, 0) << into_dir.describe();
  EXPECT_EQ(read_text(base_ / "remote/existing-dir/report.txt"), "one file");

  auto no_parent = arsync({"-a", file, remote(base_ / "remote/missing/copy.txt")}, key);
  EXPECT_EQ(no_parent.exit_code, 3) << no_parent.describe();
  EXPECT_TRUE(e2e::contains(no_parent.err, "change_dir")) << no_parent.describe();
  EXPECT_FALSE(fs::exists(base_ / "remote/missing"));

  fs::create_directories(base_ / "local");
  auto pulled =
      arsync({"-a", remote(base_ / "remote/copy.txt"), (base_ / "local/back.txt").string()}, key);
  ASSERT_EQ(pulled.exit_code, 0) << pulled.describe();
  EXPECT_EQ(read_text(base_ / "local/back.txt"), "one file");

  auto pulled_in =
      arsync({"-a", remote(base_ / "remote/copy.txt"), (base_ / "local").string()}, key);
  ASSERT_EQ(pulled_in.exit_code, 0) << pulled_in.describe();
  EXPECT_EQ(read_text(base_ / "local/copy.txt"), "one file");

  // A directory is never renamed: it lands inside the new destination, as with rsync.
  auto dir =
      arsync({"-a", remote(base_ / "remote/existing-dir"), (base_ / "newdest").string()}, key);
  ASSERT_EQ(dir.exit_code, 0) << dir.describe();
  EXPECT_EQ(read_text(base_ / "newdest/existing-dir/report.txt"), "one file");
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// libssh 0.10 runs a ProxyJump as the ProxyCommand "ssh -W [%h]:%p JUMP", with the ssh on
// PATH; here that ssh is a wrapper that reads the test's config file.
TEST_F(RemoteSyncTest, ProxyJumpGoesThroughTheJumpHost) {
  fs::create_directories(base_ / "src");
  std::ofstream(base_ / "src/f") << "via the jump host";
  std::string config = (base_ / "ssh_config").string();
  std::string host_block = "  HostName 127.0.0.1\n  Port " + std::to_string(sshd_->port()) +
                           "\n  User root\n  IdentityFile " + sshd_->plain_key_path() +
                           "\n  UserKnownHostsFile " + sshd_->known_hosts_path() +
                           "\n  BatchMode yes\n";
  std::ofstream(config) << "Host jump\n"
                        << host_block << "Host behind\n"
                        << host_block << "  ProxyJump jump\n";
  fs::create_directories(base_ / "bin");
  std::string wrapper = (base_ / "bin/ssh").string();
  std::ofstream(wrapper) << "#!/bin/sh\nexec /usr/bin/ssh -F " << config << " \"$@\"\n";
  fs::permissions(wrapper, fs::perms::owner_all);

  const size_t logins_before = count_of(sshd_->log_text(), "Accepted publickey");
  e2e::RunOptions options;
  options.prefix = {"/usr/bin/env", "PATH=" + (base_ / "bin").string() + ":/usr/bin:/bin"};
  auto r =
      e2e::runCommand({ARSYNC_BIN, "-e", "ssh -F " + config, "--helper", ARSYNC_HELPER_BIN, "-a",
                       (base_ / "src").string() + "/", "behind:" + (base_ / "dst").string() + "/"},
                      options);
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));
  // One login on the jump host, one on the host behind it (the same sshd here).
  EXPECT_EQ(count_of(sshd_->log_text(), "Accepted publickey"), logins_before + 2)
      << sshd_->log_text();
}

// Rewrites `length` bytes at `offset` of the file in place, and appends `append` bytes.
// The mtime moves `minutes` on, so that the quick check sees the change even within the
// second of the previous run.
void edit_file(const fs::path& path, off_t offset, size_t length, size_t append, int minutes) {
  const auto mtime = fs::last_write_time(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(offset);
    f << std::string(length, 'e');
    f.seekp(0, std::ios::end);
    f << std::string(append, 'a');
  }
  fs::last_write_time(path, mtime + std::chrono::minutes(minutes));
}

// Over SSH, a file already at the destination is updated by a delta (the default), in
// both directions: a re-push or re-pull of a large file with a small edit sends the edit
// and a little more, not the file.
TEST_F(RemoteSyncTest, RePushAndRePullOfAnEditedLargeFileSendOnlyTheChanges) {
  constexpr off_t kSize = 16 << 20;
  fs::create_directories(base_ / "src");
  e2e::writePatternFile((base_ / "src/big").string(), kSize, 7);
  const std::string src = (base_ / "src").string() + "/";
  const std::string dst = remote(base_ / "dst") + "/";
  auto first = arsync({"-a", "--stats", src, dst}, sshd_->plain_key_path());
  ASSERT_EQ(first.exit_code, 0) << first.describe();
  EXPECT_EQ(e2e::statValue(first.out, "Matched data:"), 0) << first.out;

  edit_file(base_ / "src/big", kSize / 2, 64 * 1024, 1000, 1);
  auto push = arsync({"-a", "--stats", src, dst}, sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "src", base_ / "dst"));
  EXPECT_GT(e2e::statValue(push.out, "Matched data:"), kSize - 256 * 1024) << push.out;
  EXPECT_LT(e2e::statValue(push.out, "Literal data:"), 256 * 1024) << push.out;
  EXPECT_LT(e2e::statValue(push.out, "Total bytes sent:"), 512 * 1024) << push.out;

  // A pull back into a copy of the old version.
  fs::create_directories(base_ / "back");
  auto pull_whole = arsync({"-a", dst, (base_ / "back").string() + "/"}, sshd_->plain_key_path());
  ASSERT_EQ(pull_whole.exit_code, 0) << pull_whole.describe();
  edit_file(base_ / "dst/big", 1000, 4096, 0, 2);
  auto pull =
      arsync({"-a", "--stats", dst, (base_ / "back").string() + "/"}, sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "dst", base_ / "back"));
  EXPECT_GT(e2e::statValue(pull.out, "Matched data:"), kSize - 256 * 1024) << pull.out;
  EXPECT_LT(e2e::statValue(pull.out, "Literal data:"), 64 * 1024) << pull.out;

  // -W: whole files, as before.
  edit_file(base_ / "src/big", 0, 10, 0, 5);
  auto whole = arsync({"-aW", "--stats", src, dst}, sshd_->plain_key_path());
  ASSERT_EQ(whole.exit_code, 0) << whole.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "src", base_ / "dst"));
  EXPECT_EQ(e2e::statValue(whole.out, "Matched data:"), 0) << whole.out;
  EXPECT_GE(e2e::statValue(whole.out, "Literal data:"), kSize) << whole.out;
}

// A directory renamed on the source is rebuilt on the receiving side from the files of its
// old name, which --delete removes only once the new ones have landed: a push or a pull
// sends the file list, the questions and the recipes, not the files (docs/DELTA.md,
// "Content found across files").
TEST_F(RemoteSyncTest, PushAndPullOfARenamedDirectorySendAlmostNothing) {
  constexpr int kFiles = 16;
  constexpr off_t kSize = 128 << 10;
  for (int i = 0; i < kFiles; ++i) {
    fs::create_directories(base_ / "src/old-name");
    e2e::writePatternFile((base_ / "src/old-name" / ("f" + std::to_string(i))).string(), kSize,
                          100 + i);
  }
  const std::string src = (base_ / "src").string() + "/";
  const std::string dst = remote(base_ / "dst") + "/";
  auto first = arsync({"-a", "--delete", src, dst}, sshd_->plain_key_path());
  ASSERT_EQ(first.exit_code, 0) << first.describe();

  fs::rename(base_ / "src/old-name", base_ / "src/new-name");
  auto push = arsync({"-a", "--delete", "--stats", src, dst}, sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "src", base_ / "dst"));
  EXPECT_FALSE(fs::exists(base_ / "dst/old-name"));
  EXPECT_EQ(e2e::statValue(push.out, "Literal data:"), 0) << push.out;
  EXPECT_EQ(e2e::statValue(push.out, "Matched data:"), kFiles * kSize) << push.out;
  // 2 MiB of files; a few hundred bytes each way per file.
  EXPECT_LT(e2e::statValue(push.out, "Total bytes sent:"), 16 * 1024) << push.out;
  EXPECT_LT(e2e::statValue(push.out, "Total bytes received:"), 16 * 1024) << push.out;

  // And a pull: the local side is the receiver that finds the content.
  const std::string back = (base_ / "back").string() + "/";
  auto pull_whole = arsync({"-a", "--delete", dst, back}, sshd_->plain_key_path());
  ASSERT_EQ(pull_whole.exit_code, 0) << pull_whole.describe();
  fs::rename(base_ / "dst/new-name", base_ / "dst/third-name");
  auto pull = arsync({"-a", "--delete", "--stats", dst, back}, sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "dst", base_ / "back"));
  EXPECT_EQ(e2e::statValue(pull.out, "Literal data:"), 0) << pull.out;
  EXPECT_LT(e2e::statValue(pull.out, "Total bytes received:"), 16 * 1024) << pull.out;
}

// Kills `client` (SIGKILL) once a temporary file in `dir` whose name starts with `prefix`
// holds `bytes`, and reaps it; false if none got that far within about 5 s.
bool kill_once_written(e2e::Child& client, const fs::path& dir, const std::string& prefix,
                       uintmax_t bytes) {
  bool killed = false;
  for (int i = 0; i < 1000 && !killed; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (const auto& e : fs::directory_iterator(dir)) {
      std::error_code ec;
      if (e.path().filename().string().starts_with(prefix) &&
          fs::file_size(e.path(), ec) >= bytes && !ec) {
        client.signal(SIGKILL);
        killed = true;
        break;
      }
    }
  }
  client.wait();
  return killed;
}

// --partial over SSH: a client killed during a push leaves what had arrived under the
// file's name on the remote side, and the next push sends only the rest.
TEST_F(RemoteSyncTest, PartialPushInterruptedThenResumedSendsOnlyTheRest) {
  constexpr off_t kSize = 128 << 20;
  fs::create_directories(base_ / "src");
  e2e::writePatternFile((base_ / "src/big").string(), kSize, 43);
  fs::create_directories(base_ / "dst");
  std::vector<std::string> argv{ARSYNC_BIN,
                                "-e",
                                rsh(sshd_->plain_key_path()),
                                "--helper",
                                ARSYNC_HELPER_BIN,
                                "-a",
                                "--partial",
                                (base_ / "src").string() + "/",
                                remote(base_ / "dst") + "/"};
  e2e::Child client(argv, {});
  ASSERT_TRUE(kill_once_written(client, base_ / "dst", ".big.", 32u << 20))
      << "the remote side was never seen writing";
  // The helper notices the client is gone and keeps what it has.
  for (int i = 0; i < 1000 && !fs::exists(base_ / "dst/big"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(base_ / "dst/big"));
  // Over QUIC the file's 16 MiB ranges travel side by side and only the part without a gap
  // from the start is kept: less than the temporary file's size.
  const auto arrived = static_cast<long long>(fs::file_size(base_ / "dst/big"));
  ASSERT_GE(arrived, 1 << 20);
  ASSERT_LT(arrived, kSize);

  argv.insert(argv.begin() + 6, "--stats");
  auto resumed = e2e::runCommand(argv);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "src", base_ / "dst"));
  // Only the rest was sent (and a chunk or so at the cut); the part that had arrived was
  // taken from the partial file.
  EXPECT_LT(e2e::statValue(resumed.out, "Literal data:"), kSize - arrived + 64 * 1024)
      << resumed.out;
  EXPECT_GE(e2e::statValue(resumed.out, "Matched data:"), arrived - 64 * 1024) << resumed.out;
}

// Sets a file's content and mtime (whole seconds).
void put_file(const fs::path& path, const std::string& content, int64_t mtime_sec) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  struct timespec times[2] = {{mtime_sec, 0}, {mtime_sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// -c over SSH, both ways: the merkle roots computed on each side decide. A same-size
// same-mtime file with other bytes is sent (itemized 'c'); an identical one with another
// mtime only gets its time.
TEST_F(RemoteSyncTest, ChecksumPushAndPullCompareContentNotTimes) {
  std::string big(20 << 20, '\0');  // past 16 MiB: its digest follows its entry
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  std::string big_changed = big;
  big_changed[3 << 20] ^= 0x11;
  auto make_pair = [&](const fs::path& from, const fs::path& to) {
    put_file(from / "diff", "hello\n", 1600000000);
    put_file(from / "same", "same\n", 1600000000);
    put_file(from / "big", big_changed, 1600000000);
    put_file(to / "diff", "HELLO\n", 1600000000);
    put_file(to / "same", "same\n", 1500000000);
    put_file(to / "big", big, 1600000000);
  };
  for (bool push : {true, false}) {
    SCOPED_TRACE(push ? "push" : "pull");
    const fs::path from = base_ / (push ? "src-push" : "src-pull");
    const fs::path to = base_ / (push ? "dst-push" : "dst-pull");
    make_pair(from, to);
    const std::string source = push ? from.string() + "/" : remote(from) + "/";
    const std::string dest = push ? remote(to) + "/" : to.string() + "/";
    auto r = arsync({"-a", "-c", "-i", source, dest}, sshd_->plain_key_path());
    ASSERT_EQ(r.exit_code, 0) << r.describe();
    EXPECT_TRUE(e2e::contains(r.out, ">fc........ diff")) << r.out;
    EXPECT_TRUE(e2e::contains(r.out, ">fc........ big")) << r.out;
    EXPECT_TRUE(e2e::contains(r.out, ".f..t...... same")) << r.out;
    EXPECT_EQ(read_all(to / "diff"), "hello\n");
    EXPECT_TRUE(read_all(to / "big") == big_changed);
    EXPECT_TRUE(e2e::sameTree(from.string(), to.string()));
  }
}

// --inplace over SSH: the remote file is rewritten where it is (same inode; a hard link to
// it sees the new content), by a delta that reorders blocks.
TEST_F(RemoteSyncTest, InplacePushUpdatesTheRemoteFileItself) {
  std::string old(8 << 20, '\0');
  for (size_t i = 0; i < old.size(); ++i) old[i] = static_cast<char>((i * 2246822519u) >> 11);
  const size_t q = old.size() / 4;
  const std::string fresh =
      old.substr(0, q) + old.substr(2 * q, q) + old.substr(q, q) + "inserted" + old.substr(3 * q);
  put_file(base_ / "src/big", fresh, 1700000000);
  put_file(base_ / "dst/big", old, 1600000000);
  fs::create_hard_link(base_ / "dst/big", base_ / "dst/link");
  struct stat before;
  ASSERT_EQ(::lstat((base_ / "dst/big").c_str(), &before), 0);
  auto r = arsync(
      {"-a", "--inplace", "--stats", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
      sshd_->plain_key_path());
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(read_all(base_ / "dst/big") == fresh);
  EXPECT_TRUE(read_all(base_ / "dst/link") == fresh);
  struct stat after;
  ASSERT_EQ(::lstat((base_ / "dst/big").c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  EXPECT_GT(e2e::statValue(r.out, "Matched data:"), static_cast<long long>(q)) << r.out;
  for (const auto& e : fs::directory_iterator(base_ / "dst"))
    EXPECT_NE(e.path().filename().string()[0], '.') << "no temporary file: " << e.path();
}

// --partial-dir over SSH: what had arrived when the client was killed sits in DIR under
// the file's name (not at the final name); the next push uses it as the basis, sends only
// the rest, and removes it.
TEST_F(RemoteSyncTest, PartialDirPushInterruptedThenResumedFromTheDir) {
  constexpr off_t kSize = 128 << 20;
  fs::create_directories(base_ / "src");
  e2e::writePatternFile((base_ / "src/big").string(), kSize, 44);
  fs::create_directories(base_ / "dst");
  std::vector<std::string> argv{ARSYNC_BIN,
                                "-e",
                                rsh(sshd_->plain_key_path()),
                                "--helper",
                                ARSYNC_HELPER_BIN,
                                "-a",
                                "--partial-dir=.arsync-partial",
                                (base_ / "src").string() + "/",
                                remote(base_ / "dst") + "/"};
  e2e::Child client(argv, {});
  ASSERT_TRUE(kill_once_written(client, base_ / "dst", ".big.", 32u << 20))
      << "the remote side was never seen writing";
  const fs::path kept = base_ / "dst/.arsync-partial/big";
  for (int i = 0; i < 1000 && !fs::exists(kept); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_FALSE(fs::exists(base_ / "dst/big")) << "never at the final name";
  // Only the part without a gap from the start is kept (see the --partial test above).
  const auto arrived = static_cast<long long>(fs::file_size(kept));
  ASSERT_GE(arrived, 1 << 20);
  ASSERT_LT(arrived, kSize);

  argv.insert(argv.begin() + 6, "--stats");
  auto resumed = e2e::runCommand(argv);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.describe();
  EXPECT_TRUE(e2e::sameTree(base_ / "src", base_ / "dst"));
  EXPECT_LT(e2e::statValue(resumed.out, "Literal data:"), kSize - arrived + 64 * 1024)
      << resumed.out;
  EXPECT_GE(e2e::statValue(resumed.out, "Matched data:"), arrived - 64 * 1024) << resumed.out;
  EXPECT_LT(e2e::statValue(resumed.out, "Total bytes sent:"), kSize - arrived + 1024 * 1024)
      << resumed.out;
  EXPECT_FALSE(fs::exists(base_ / "dst/.arsync-partial")) << "removed after success";
}

}  // namespace
