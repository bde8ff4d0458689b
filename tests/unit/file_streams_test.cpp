// File content over QUIC, a stream per file or range (dataplane/file_streams.h): many files
// in flight at once, a large file cut into ranges, acknowledgements, and malformed streams.
#include "dataplane/file_streams.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "control/frame.h"
#include "dataplane/quic_error.h"
#include "dataplane/wire_codec.h"
#include "merkle/file_digest.h"
#include "tests/unit/quic_pair.h"

namespace arsync::dataplane {
namespace {

// What a receiver got, by file id.
struct Received {
  std::mutex mutex;
  std::map<uint64_t, std::vector<engine::ContentChunk>> chunks;
  std::map<uint64_t, engine::ContentFailed> failed;

  FileStreamReceiver::Deliver deliver() {
    return [this](engine::ContentMessage&& message) {
      std::lock_guard lock(mutex);
      if (auto* chunk = std::get_if<engine::ContentChunk>(&message)) {
        chunks[chunk->id].push_back(std::move(*chunk));
      } else {
        auto& f = std::get<engine::ContentFailed>(message);
        failed[f.id] = f;
      }
    };
  }

  // The file's bytes, put in offset order.
  std::vector<uint8_t> file(uint64_t id) {
    std::lock_guard lock(mutex);
    auto& list = chunks[id];
    std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
    std::vector<uint8_t> out;
    for (auto& c : list) {
      EXPECT_EQ(c.offset, out.size()) << "file " << id;
      out.insert(out.end(), c.data.begin(), c.data.end());
    }
    return out;
  }
};

engine::ContentChunk chunk_of(uint64_t id, const std::vector<uint8_t>& content, uint64_t offset,
                              size_t size) {
  engine::ContentChunk chunk;
  chunk.id = id;
  chunk.offset = offset;
  chunk.data =
      fsio::ByteBuffer::copy_of({content.data() + offset, size}, engine::ContentChunk::kFrontRoom,
                                engine::ContentChunk::kBackRoom);
  chunk.last = offset + size == content.size();
  if (chunk.last) chunk.digest = merkle::digest_bytes(content.data(), content.size());
  return chunk;
}

std::vector<uint8_t> random_bytes(size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// The sender's end, as the channels do it: the count of streams, then the acknowledgements;
// the receiver's content is over once it has read that many.
void finish(FileStreamSender& sender, FileStreamReceiver& receiver) {
  std::promise<void> over;
  receiver.expect(sender.end(), [&] { over.set_value(); });
  sender.wait_acknowledged();
  EXPECT_EQ(over.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST(FileStreams, AThousandFilesAreInFlightAtOnce) {
  Pair pair = connect_pair();
  Received received;
  FileStreamReceiver receiver(*pair.server, received.deliver());
  constexpr uint64_t kFiles = 1000;
  FileStreamSender sender(*pair.client, {.max_streams = kFiles, .range_size = 1u << 20});
  std::vector<std::vector<uint8_t>> contents;
  for (uint64_t i = 0; i < kFiles; ++i) contents.push_back(random_bytes(200 + i, unsigned(i)));
  // Every file's stream opens before any file ends: the sender would block at the limit
  // (and the test time out) if fewer than 1000 could be open at once.
  for (uint64_t i = 0; i < kFiles; ++i) sender.send(chunk_of(i + 1, contents[i], 0, 100));
  for (uint64_t i = 0; i < kFiles; ++i) {
    sender.send(chunk_of(i + 1, contents[i], 100, contents[i].size() - 100));
  }
  finish(sender, receiver);
  EXPECT_EQ(receiver.streams_read(), kFiles);
  EXPECT_EQ(receiver.error(), "");
  for (uint64_t i = 0; i < kFiles; ++i) ASSERT_EQ(received.file(i + 1), contents[i]);
}

TEST(FileStreams, ALargeFileTravelsAsRangesOnStreamsOfTheirOwn) {
  Pair pair = connect_pair();
  Received received;
  FileStreamReceiver receiver(*pair.server, received.deliver());
  FileStreamSender sender(*pair.client, {.max_streams = 8, .range_size = 1u << 20});
  auto content = random_bytes((5u << 20) + 12345, 9);
  constexpr size_t kPiece = 256 * 1024;
  for (uint64_t at = 0; at < content.size(); at += kPiece) {
    sender.send(chunk_of(7, content, at, std::min<size_t>(kPiece, content.size() - at)));
  }
  finish(sender, receiver);
  EXPECT_EQ(receiver.streams_read(), 6u);  // five whole MiB ranges and the rest
  EXPECT_EQ(received.file(7), content);
  std::lock_guard lock(received.mutex);
  EXPECT_TRUE(received.chunks[7].back().last);
}

TEST(FileStreams, AFailureEndsTheFilesOwnStream) {
  Pair pair = connect_pair();
  Received received;
  FileStreamReceiver receiver(*pair.server, received.deliver());
  FileStreamSender sender(*pair.client, {});
  auto content = random_bytes(1000, 3);
  engine::ContentChunk first = chunk_of(4, content, 0, 500);
  sender.send(std::move(first));
  engine::ContentFailed failed{4, false, "read error"};
  EXPECT_TRUE(sender.send_failure(failed));
  // A file with no stream open: the caller sends the failure elsewhere.
  EXPECT_FALSE(sender.send_failure({5, true, "vanished"}));
  finish(sender, receiver);
  std::lock_guard lock(received.mutex);
  ASSERT_EQ(received.failed.count(4), 1u);
  EXPECT_EQ(received.failed[4].message, "read error");
  EXPECT_EQ(received.chunks[4].size(), 1u);
}

// Writes raw bytes as a file stream of the client's and finishes it.
void send_raw(QuicConnection& connection, const std::vector<uint8_t>& bytes) {
  int64_t stream = connection.open_stream();
  connection.write(stream, bytes, true);
}

std::vector<uint8_t> framed(control::FrameType type, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out(control::kFrameHeaderSize);
  control::write_frame_header(type, payload.size(), out.data());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(FileStreams, MalformedStreamsFailTheConnection) {
  auto content = random_bytes(100, 1);
  std::vector<uint8_t> preamble(kFileStreamPreamble, kFileStreamPreamble + 4);
  auto chunk_frame = [&](uint64_t id) {
    return framed(control::FrameType::content_chunk, encode_chunk(chunk_of(id, content, 0, 50)));
  };
  std::vector<std::vector<uint8_t>> bad = {
      {'N', 'O', 'P', 'E'},  // not a file stream
      preamble,              // no content at all
  };
  {
    auto two_files = preamble;  // two files on one stream
    for (uint64_t id : {1, 2}) {
      auto f = chunk_frame(id);
      two_files.insert(two_files.end(), f.begin(), f.end());
    }
    bad.push_back(two_files);
    auto request = preamble;  // a frame that has no place on a file stream
    auto f = framed(control::FrameType::list_end, {});
    request.insert(request.end(), f.begin(), f.end());
    bad.push_back(request);
  }
  for (size_t i = 0; i < bad.size(); ++i) {
    Pair pair = connect_pair();
    Received received;
    FileStreamReceiver receiver(*pair.server, received.deliver());
    send_raw(*pair.client, bad[i]);
    // The receiver gives up on the whole connection: the sender must not wait for ever.
    EXPECT_THROW(
        {
          for (;;) {
            auto stream = pair.client->open_stream();
            pair.client->write(stream, preamble);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
          }
        },
        QuicError)
        << "case " << i;
    EXPECT_NE(receiver.error(), "") << "case " << i;
  }
}

}  // namespace
}  // namespace arsync::dataplane
