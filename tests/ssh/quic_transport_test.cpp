// The QUIC data plane end to end: the real binaries through a real sshd on 127.0.0.1, the
// key sent over SSH, the data over QUIC; and the fallback to SSH when QUIC cannot be had.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "control/byte_stream.h"
#include "control/frame.h"
#include "control/quic_messages.h"
#include "control/session_messages.h"
#include "tests/e2e/harness.h"
#include "tests/ssh/sshd_fixture.h"

namespace {

namespace fs = std::filesystem;
using arsync::sshtest::SshdFixture;

class QuicTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = SshdFixture::unavailable_reason()) GTEST_SKIP() << *why;
    char tmpl[] = "/tmp/arsync-quic-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = tmpl;
    // The forced key's helper never offers QUIC.
    sshd_ = std::make_unique<SshdFixture>(std::string(ARSYNC_HELPER_BIN) + " --no-quic");
  }
  void TearDown() override {
    sshd_.reset();
    if (!base_.empty()) e2e::removeTree(base_);
  }

  e2e::RunResult arsync(std::vector<std::string> args, const std::string& key,
                        const std::string& helper = ARSYNC_HELPER_BIN) {
    std::vector<std::string> argv{
        ARSYNC_BIN, "-e",
        "ssh -p " + std::to_string(sshd_->port()) + " -i " + key +
            " -l root -o UserKnownHostsFile=" + sshd_->known_hosts_path() + " -o BatchMode=yes",
        "--helper", helper};
    argv.insert(argv.end(), args.begin(), args.end());
    return e2e::runCommand(argv);
  }
  std::string remote(const fs::path& p) const { return "127.0.0.1:" + p.string(); }

  void make_source(int files, size_t size) {
    fs::create_directories(base_ / "src/sub");
    for (int i = 0; i < files; ++i) {
      std::ofstream(base_ / "src/sub" / ("f" + std::to_string(i)))
          << std::string(size, static_cast<char>('a' + i % 26));
    }
  }

  fs::path base_;
  std::unique_ptr<SshdFixture> sshd_;
};

TEST_F(QuicTransportTest, PushAndPullTheTrickyTreeOverQuic) {
  std::string src = (base_ / "src").string();
  e2e::buildTrickyTree(src);
  auto push =
      arsync({"-aH", "--stats", "--transport", "quic", src + "/", remote(base_ / "pushed") + "/"},
             sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::contains(push.out, "Data transport: QUIC, UDP 127.0.0.1 port ")) << push.out;
  EXPECT_TRUE(e2e::sameTree(src, (base_ / "pushed").string()));

  auto pull = arsync({"-aH", "--stats", "--transport", "quic", remote(base_ / "pushed") + "/",
                      (base_ / "pulled").string() + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::contains(pull.out, "Data transport: QUIC, UDP 127.0.0.1 port ")) << pull.out;
  EXPECT_TRUE(e2e::sameTree(src, (base_ / "pulled").string()));
}

TEST_F(QuicTransportTest, QuicIsTheDefaultAndCarriesAThousandFilesInFlight) {
  make_source(1500, 3000);
  // A stream per file, as many as 1000 at once, both ways.
  auto push = arsync({"-a", "--stats", "--streams", "1000", (base_ / "src").string() + "/",
                      remote(base_ / "dst") + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::contains(push.out, "Data transport: QUIC")) << push.out;
  EXPECT_TRUE(e2e::contains(push.out, ", 1500 file streams")) << push.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));

  auto pull = arsync({"-a", "--stats", "--streams", "1000", remote(base_ / "src") + "/",
                      (base_ / "pulled").string() + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::contains(pull.out, ", 1500 file streams")) << pull.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "pulled").string()));
}

TEST_F(QuicTransportTest, AFileLargerThanTheRangeSizeTravelsAsRangesOnParallelStreams) {
  // 40 MiB and a bit of random bytes: three 16 MiB ranges, each on a stream of its own,
  // landing with positional writes in whatever order they complete.
  fs::create_directories(base_ / "src");
  {
    std::ofstream out(base_ / "src/big.bin", std::ios::binary);
    std::mt19937_64 rng(42);
    std::vector<uint64_t> block(1 << 16);
    for (int i = 0; i < 80; ++i) {
      for (auto& word : block) word = rng();
      out.write(reinterpret_cast<const char*>(block.data()), block.size() * sizeof block[0]);
    }
    out << "tail";
  }
  auto push = arsync({"-a", "--stats", "--transport", "quic", "--streams", "4",
                      (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::contains(push.out, ", 3 file streams")) << push.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));

  auto pull = arsync({"-a", "--stats", "--transport", "quic", remote(base_ / "src") + "/",
                      (base_ / "pulled").string() + "/"},
                     sshd_->plain_key_path());
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::contains(pull.out, ", 3 file streams")) << pull.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "pulled").string()));
}

TEST_F(QuicTransportTest, StreamsOutOfRangeIsAUsageError) {
  make_source(1, 10);
  for (const char* bad : {"0", "1001", "many"}) {
    auto run = arsync(
        {"-a", "--streams", bad, (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
        sshd_->plain_key_path());
    EXPECT_EQ(run.exit_code, 1) << bad << "\n" << run.describe();
    EXPECT_TRUE(e2e::contains(run.err, "--streams")) << run.err;
  }
  EXPECT_FALSE(fs::exists(base_ / "dst"));
}

TEST_F(QuicTransportTest, HelperWithoutQuicFallsBackToSshOrFailsWhenQuicIsRequired) {
  make_source(20, 10000);
  // Through the forced command: a helper that never offers QUIC.
  auto fallback =
      arsync({"-av", "--stats", (base_ / "src").string() + "/", remote(base_ / "dst") + "/"},
             sshd_->forced_key_path(), "arsync-helper");
  ASSERT_EQ(fallback.exit_code, 0) << fallback.describe();
  EXPECT_TRUE(e2e::contains(fallback.out,
                            "QUIC unavailable (the helper cannot offer QUIC: this "
                            "helper is configured with --no-quic)"))
      << fallback.out;
  EXPECT_TRUE(e2e::contains(fallback.out, "Data transport: SSH channel")) << fallback.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));

  auto required = arsync(
      {"-a", "--transport", "quic", (base_ / "src").string() + "/", remote(base_ / "dst2") + "/"},
      sshd_->forced_key_path(), "arsync-helper");
  EXPECT_EQ(required.exit_code, 10) << required.describe();
  EXPECT_TRUE(e2e::contains(required.err, "no QUIC data plane to 127.0.0.1")) << required.err;
  EXPECT_FALSE(fs::exists(base_ / "dst2"));
}

// One file of `size` bytes of a simple non-repeating pattern at `path`.
void write_patterned_file(const fs::path& path, size_t size) {
  fs::create_directories(path.parent_path());
  std::string data(size, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    data[i] = static_cast<char>(x);
  }
  std::ofstream(path, std::ios::binary) << data;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST_F(QuicTransportTest, BwlimitPacesTheSenderOverQuicBothWaysAndOverSsh) {
  write_patterned_file(base_ / "src/big", 8u << 20);
  // Push: the client sends, 8 MiB at 2 MiB/s is 4 s (less a 20 ms burst).
  auto start = std::chrono::steady_clock::now();
  auto push = arsync({"-a", "--stats", "--transport", "quic", "--bwlimit=2M", "--cc", "cubic",
                      (base_ / "src").string() + "/", remote(base_ / "pushed") + "/"},
                     sshd_->plain_key_path());
  double seconds = seconds_since(start);
  ASSERT_EQ(push.exit_code, 0) << push.describe();
  EXPECT_TRUE(e2e::contains(push.out, "Data transport: QUIC")) << push.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "pushed").string()));
  EXPECT_GE(seconds, 3.5);
  EXPECT_LT(seconds, 15.0);

  // Pull: the helper sends, at the limit quic_init carried: 8 MiB at 4 MiB/s is 2 s.
  start = std::chrono::steady_clock::now();
  auto pull = arsync({"-a", "--stats", "--transport", "quic", "--bwlimit", "4096", "--cc", "reno",
                      remote(base_ / "pushed") + "/", (base_ / "pulled").string() + "/"},
                     sshd_->plain_key_path());
  seconds = seconds_since(start);
  ASSERT_EQ(pull.exit_code, 0) << pull.describe();
  EXPECT_TRUE(e2e::contains(pull.out, "Data transport: QUIC")) << pull.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "pulled").string()));
  EXPECT_GE(seconds, 1.75);
  EXPECT_LT(seconds, 10.0);

  // Over the SSH channel the frame writer is paced: a pull (the helper paces, told by
  // sync_start) of 8 MiB at 4 MiB/s.
  start = std::chrono::steady_clock::now();
  auto ssh = arsync({"-a", "--stats", "--transport", "ssh", "--bwlimit", "4M",
                     remote(base_ / "pushed") + "/", (base_ / "ssh").string() + "/"},
                    sshd_->plain_key_path());
  seconds = seconds_since(start);
  ASSERT_EQ(ssh.exit_code, 0) << ssh.describe();
  EXPECT_TRUE(e2e::contains(ssh.out, "Data transport: SSH channel")) << ssh.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "ssh").string()));
  EXPECT_GE(seconds, 1.75);
  EXPECT_LT(seconds, 10.0);
}

TEST_F(QuicTransportTest, EveryCongestionControllerCarriesATreeAndUnknownNamesAreUsageErrors) {
  make_source(30, 20000);
  for (const char* cc : {"bbr2", "bbr", "cubic", "reno"}) {
    const fs::path dest = base_ / (std::string("dst-") + cc);
    auto push = arsync({"-a", "--stats", "--transport", "quic", "--cc", cc,
                        (base_ / "src").string() + "/", remote(dest) + "/"},
                       sshd_->plain_key_path());
    ASSERT_EQ(push.exit_code, 0) << cc << ": " << push.describe();
    EXPECT_TRUE(e2e::contains(push.out, "Data transport: QUIC")) << push.out;
    EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), dest.string())) << cc;
  }
  auto bad =
      arsync({"-a", "--cc", "vegas", (base_ / "src").string() + "/", remote(base_ / "never") + "/"},
             sshd_->plain_key_path());
  EXPECT_EQ(bad.exit_code, 1) << bad.describe();
  EXPECT_TRUE(e2e::contains(bad.err, "--cc wants bbr2, bbr, cubic or reno")) << bad.err;
  auto bad_rate = arsync(
      {"-a", "--bwlimit", "fast", (base_ / "src").string() + "/", remote(base_ / "never") + "/"},
      sshd_->plain_key_path());
  EXPECT_EQ(bad_rate.exit_code, 1) << bad_rate.describe();
  EXPECT_TRUE(e2e::contains(bad_rate.err, "--bwlimit wants a rate")) << bad_rate.err;
  EXPECT_FALSE(fs::exists(base_ / "never"));
}

// The helper alone on a pair of pipes, spoken to frame by frame: a quic_init naming an
// unknown congestion controller is a protocol error, answered with `error`.
TEST(QuicInitFromAPeer, UnknownCongestionControllerIsAProtocolError) {
  int to_helper[2], from_helper[2];
  ASSERT_EQ(::pipe(to_helper), 0);
  ASSERT_EQ(::pipe(from_helper), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(to_helper[0], 0);
    ::dup2(from_helper[1], 1);
    for (int fd : {to_helper[0], to_helper[1], from_helper[0], from_helper[1]}) ::close(fd);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(ARSYNC_HELPER_BIN, ARSYNC_HELPER_BIN, "--server", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(to_helper[0]);
  ::close(from_helper[1]);
  std::string error;
  {
    arsync::control::FdStream stream(from_helper[0], to_helper[1], /*owns=*/true);
    arsync::control::FrameReader reader(stream);
    arsync::control::FrameWriter writer(stream);
    arsync::control::send_control(writer, arsync::control::make_hello());
    (void)arsync::control::receive_control(reader, "hello-ack");
    arsync::control::QuicInit init;
    init.key_hex = std::string(64, 'c');
    init.congestion_control = "vegas";
    arsync::control::send_control(writer, arsync::control::make_quic_init(init));
    try {
      (void)arsync::control::receive_control(reader, "quic_ready");
    } catch (const arsync::control::ProtocolError& e) {
      error = e.what();
    }
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(e2e::contains(error, "unknown congestion controller \"vegas\"")) << error;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

// A UDP port nothing listens on right now.
uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// An nftables table that drops UDP to one port on this host, removed again at the end.
class UdpBlock {
 public:
  explicit UdpBlock(uint16_t port) : table_("arsync_quic_test_" + std::to_string(::getpid())) {
    std::string rules = "table inet " + table_ +
                        " {\n  chain input {\n    type filter hook input priority -10; policy "
                        "accept;\n    udp dport " +
                        std::to_string(port) + " drop\n  }\n}";
    std::string file = "/tmp/" + table_ + ".nft";
    std::ofstream(file) << rules << "\n";
    auto add = e2e::runCommand({kNft, "-f", file});
    fs::remove(file);
    ok_ = add.exit_code == 0;
    error_ = add.err;
  }
  ~UdpBlock() {
    if (ok_) e2e::runCommand({kNft, "delete", "table", "inet", table_});
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

  static constexpr const char* kNft = "/usr/sbin/nft";

 private:
  std::string table_;
  bool ok_ = false;
  std::string error_;
};

TEST_F(QuicTransportTest, BlockedUdpFallsBackToSshWithinSecondsOrFailsWhenQuicIsRequired) {
  if (::access(UdpBlock::kNft, X_OK) != 0) GTEST_SKIP() << "nft is not installed";
  make_source(20, 10000);
  const uint16_t port = free_udp_port();
  UdpBlock block(port);
  if (!block.ok() && (e2e::contains(block.error(), "Operation not supported") ||
                      e2e::contains(block.error(), "Protocol not supported"))) {
    GTEST_SKIP() << "this kernel has no nftables: " << block.error();
  }
  ASSERT_TRUE(block.ok()) << block.error();
  const std::string ports = std::to_string(port);

  auto start = std::chrono::steady_clock::now();
  auto fallback = arsync({"-av", "--stats", "--quic-port", ports, (base_ / "src").string() + "/",
                          remote(base_ / "dst") + "/"},
                         sshd_->plain_key_path());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(fallback.exit_code, 0) << fallback.describe();
  EXPECT_TRUE(e2e::contains(fallback.out, "QUIC unavailable (UDP 127.0.0.1 port " + ports))
      << fallback.out;
  EXPECT_TRUE(e2e::contains(fallback.out, "Data transport: SSH channel")) << fallback.out;
  EXPECT_TRUE(e2e::sameTree((base_ / "src").string(), (base_ / "dst").string()));
  EXPECT_LT(seconds, 10.0);

  auto required = arsync({"-a", "--transport", "quic", "--quic-port", ports,
                          (base_ / "src").string() + "/", remote(base_ / "dst2") + "/"},
                         sshd_->plain_key_path());
  EXPECT_EQ(required.exit_code, 10) << required.describe();
  EXPECT_TRUE(
      e2e::contains(required.err, "no QUIC data plane to 127.0.0.1: UDP 127.0.0.1 port " + ports))
      << required.err;
  EXPECT_FALSE(fs::exists(base_ / "dst2"));
}

}  // namespace
