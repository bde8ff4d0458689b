// The engine over the stream channel: sender and receiver joined only by a socket pair,
// speaking frames, as they will over SSH.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <variant>

#include <gtest/gtest.h>

#include "arsync/engine/receiver.h"
#include "arsync/engine/sender.h"
#include "control/byte_stream.h"
#include "control/frame.h"
#include "control/session_messages.h"
#include "dataplane/stream_channel.h"
#include "dataplane/wire_codec.h"
#include "tests/unit/scratch_tree.h"

namespace arsync::dataplane {
namespace {

namespace fs = std::filesystem;

class StreamChannelTest : public testing::ScratchTreeTest {
 protected:
  void SetUp() override {
    ScratchTreeTest::SetUp();
    connect_ends();
  }
  // A fresh socket pair between the two sides.
  void connect_ends() {
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    sender_end_ = std::make_unique<control::FdStream>(fds[0], fds[0], true);
    receiver_end_ = std::make_unique<control::FdStream>(fds[1], fds[1], true);
  }
  engine::SyncOptions archive() const {
    engine::SyncOptions o;
    o.recursive = o.links = o.perms = o.times = true;
    o.del = del_;
    o.whole_file = whole_file_;
    return o;
  }

  // Runs the receiver here over `receiver_end_`; `peer` plays the sender side.
  int receive(const std::function<void(control::ByteStream&)>& peer, std::string& error) {
    engine::OutputOptions quiet;
    quiet.quiet = true;
    engine::Report report(quiet);
    fsio::UniqueFd dst(::open((base_ / "dst").c_str(), O_RDONLY | O_DIRECTORY));
    std::thread sender([&] { peer(*sender_end_); });
    {
      control::FrameWriter writer(*receiver_end_);
      StreamReceiverChannel channel(*receiver_end_, writer, peer_messages_);
      engine::run_receiver(engine::Destination{dst.get(), false}, archive(), report, channel);
      error = channel.error();
      matched_ = report.stats().matched_data;
    }
    sender.join();
    return report.exit_code();
  }

  PeerMessages peer_messages_;  // what the receiving channel does with control frames

  void run_real_sender(control::ByteStream& stream) {
    engine::OutputOptions quiet;
    quiet.quiet = true;
    engine::Report report(quiet);
    control::FrameWriter writer(stream);
    StreamSenderChannel channel(stream, writer);
    std::vector<fsio::SourceSpec> sources{{(base_ / "src").string() + "/", {}}};
    engine::run_sender(sources, archive(), report, channel);
  }

  bool del_ = false;
  bool whole_file_ = true;
  uint64_t matched_ = 0;  // the last receive()'s "Matched data"
  std::unique_ptr<control::FdStream> sender_end_, receiver_end_;
};

TEST_F(StreamChannelTest, TreeArrivesIntactOverFrames) {
  std::mt19937 rng(7);
  std::string big(3 * kStreamChunk + 123, '\0');
  for (auto& c : big) c = static_cast<char>(rng());
  write_file(base_ / "src/big", big);
  write_file(base_ / "src/d/e/small", "small");
  write_file(base_ / "src/d/empty", "");
  fs::create_symlink("d/e/small", base_ / "src/link");
  std::string error;
  EXPECT_EQ(receive([&](control::ByteStream& s) { run_real_sender(s); }, error), 0);
  EXPECT_EQ(error, "");
  EXPECT_EQ(read_file(base_ / "dst/big"), big);
  EXPECT_EQ(read_file(base_ / "dst/d/e/small"), "small");
  EXPECT_TRUE(fs::exists(base_ / "dst/d/empty"));
  EXPECT_EQ(fs::read_symlink(base_ / "dst/link"), "d/e/small");
}

// Files the receiver has older versions of travel as deltas over frames: many at once,
// small and large (the large one announced before its basis is hashed), and the result is
// exact.
TEST_F(StreamChannelTest, DeltasTravelOverFrames) {
  whole_file_ = false;
  std::mt19937 rng(8);
  auto random = [&](size_t n) {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng());
    return out;
  };
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 200; ++i) files.emplace_back("d/f" + std::to_string(i), random(5000 + i));
  files.emplace_back("large", random((17 << 20) + 5));
  for (const auto& [name, content] : files) {
    std::string old = content;
    old.insert(old.size() / 2, "an edit");
    write_file(base_ / "dst" / name, old);
    write_file(base_ / "src" / name, content);
  }
  std::string error;
  EXPECT_EQ(receive([&](control::ByteStream& s) { run_real_sender(s); }, error), 0);
  EXPECT_EQ(error, "");
  for (const auto& [name, content] : files) EXPECT_EQ(read_file(base_ / "dst" / name), content);
  // Nearly all of it came from the old versions.
  EXPECT_GT(matched_, 17u << 20);
}

TEST_F(StreamChannelTest, DirectoryLargerThanOneFrameArrivesWholeAndDeleteSeesAllOfIt) {
  const size_t files = kEntriesPerFrame + kEntriesPerFrame / 2;  // two parts
  for (size_t i = 0; i < files; ++i) {
    std::ofstream(base_ / "src" / ("f" + std::to_string(i)));
  }
  write_file(base_ / "dst/extra", "not in the source");
  write_file(base_ / "dst/f7", "stale");
  del_ = true;
  std::string error;
  EXPECT_EQ(receive([&](control::ByteStream& s) { run_real_sender(s); }, error), 0);
  EXPECT_EQ(error, "");
  EXPECT_FALSE(fs::exists(base_ / "dst/extra"));
  EXPECT_EQ(read_file(base_ / "dst/f7"), "");
  EXPECT_EQ(static_cast<size_t>(
                std::distance(fs::directory_iterator(base_ / "dst"), fs::directory_iterator())),
            files);
}

TEST_F(StreamChannelTest, GarbageFromThePeerEndsTheRunWithAnErrorNotAHang) {
  std::string error;
  int code = receive(
      [](control::ByteStream& s) {
        const uint8_t junk[] = {0, 0, 0, 9, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        s.write_all(junk, sizeof junk);
        s.close_write();
      },
      error);
  EXPECT_NE(error, "");
  EXPECT_EQ(code, 0);  // nothing was listed, so nothing failed; the caller maps error() to 12
  EXPECT_TRUE(fs::is_empty(base_ / "dst"));
}

TEST_F(StreamChannelTest, ImpossibleFrameLengthIsRefusedBeforeAllocating) {
  std::string error;
  receive(
      [](control::ByteStream& s) {
        const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x10};
        s.write_all(huge, sizeof huge);
        s.close_write();
      },
      error);
  EXPECT_NE(error.find("frame length"), std::string::npos) << error;
}

TEST_F(StreamChannelTest, SenderVanishingMidFileLeavesNoPartialFile) {
  write_file(base_ / "dst/f", "old");
  std::string error;
  int code = receive(
      [](control::ByteStream& s) {
        control::FrameWriter out(s);
        fsio::DirBatch batch;
        fsio::FileEntry e;
        e.path = "f";
        e.mode = 0644;
        e.size = 10;
        e.id = 1;
        e.mtime.sec = 1;
        batch.complete = false;
        batch.entries.push_back(e);
        out.write(control::FrameType::list_batch, encode_batch(batch));
        out.write(control::FrameType::list_end, std::span<const uint8_t>{});
        engine::ContentChunk chunk;
        chunk.id = 1;
        chunk.data = fsio::ByteBuffer::copy_of("new");
        out.write(control::FrameType::content_chunk, encode_chunk(chunk));
        out.close();  // gone before the last piece
      },
      error);
  EXPECT_EQ(code, engine::kExitPartial);
  EXPECT_EQ(read_file(base_ / "dst/f"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(base_ / "dst"), fs::directory_iterator()), 1);
}

void send_json(control::FrameWriter& out, const std::string& text) {
  out.write(control::FrameType::control,
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

TEST_F(StreamChannelTest, ControlMessagesDuringTheTransferReachTheirHandler) {
  std::vector<std::variant<control::Progress, control::FileProblem>> seen;
  peer_messages_.on_control = [&](std::string_view text) {
    seen.push_back(control::parse_data_phase_message(text));
  };
  std::string error;
  int code = receive(
      [](control::ByteStream& s) {
        control::FrameWriter out(s);
        control::post_control(out, control::make_progress({3, 4096}));
        control::post_control(out, control::make_file_problem({"a\\#377b", "cannot", true}));
        out.write(control::FrameType::list_end, std::span<const uint8_t>{});
        out.write(control::FrameType::content_end, std::span<const uint8_t>{});
        out.close();
      },
      error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(code, 0);
  ASSERT_EQ(seen.size(), 2u);
  auto& progress = std::get<control::Progress>(seen[0]);
  EXPECT_EQ(progress.files, 3u);
  EXPECT_EQ(progress.bytes, 4096u);
  auto& problem = std::get<control::FileProblem>(seen[1]);
  EXPECT_EQ(problem.path, "a\\#377b");
  EXPECT_EQ(problem.message, "cannot");
  EXPECT_TRUE(problem.retry);
}

TEST_F(StreamChannelTest, MalformedOrUnexpectedControlMessagesEndTheRunWithTheReason) {
  peer_messages_.on_control = [](std::string_view text) {
    control::parse_data_phase_message(text);
  };
  const std::pair<std::string, std::string> cases[] = {
      {R"({"type":"progress","files":"3","bytes":1})", "\"files\" has the wrong type"},
      {R"({"type":"progress","files":-1,"bytes":1})", "\"files\" has the wrong type"},
      {R"({"type":"error","path":"x","message":"m"})", "missing field \"retry\""},
      {R"({"type":"error","message":"helper gave up"})", "helper gave up"},
      {R"({"type":"sync_ready"})", "unexpected \"sync_ready\" during the transfer"},
      {R"([1,2])", "not a JSON object"},
      {"{not json", "not a JSON object"},
  };
  for (const auto& [text, reason] : cases) {
    std::string error;
    receive(
        [&text = text](control::ByteStream& s) {
          control::FrameWriter out(s);
          send_json(out, text);
          out.close();
        },
        error);
    EXPECT_NE(error.find(reason), std::string::npos) << text << " -> " << error;
    connect_ends();
  }
}

TEST_F(StreamChannelTest, ControlMessageWithoutAHandlerIsAProtocolError) {
  std::string error;
  receive(
      [](control::ByteStream& s) {
        control::FrameWriter out(s);
        control::post_control(out, control::make_progress({1, 1}));
        out.close();
      },
      error);
  EXPECT_NE(error.find("unexpected control message"), std::string::npos) << error;
}

}  // namespace
}  // namespace arsync::dataplane
