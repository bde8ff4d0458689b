#include "dataplane/file_streams.h"

#include <cstring>
#include <string_view>

#include "control/frame.h"
#include "dataplane/quic_byte_stream.h"
#include "dataplane/quic_error.h"
#include "dataplane/wire_codec.h"

namespace arsync::dataplane {

using control::FrameType;

constexpr size_t kPreambleSize = sizeof kFileStreamPreamble - 1;
constexpr uint8_t kAcknowledged = 0;

// ---- sending side ----

FileStreamSender::FileStreamSender(QuicConnection& connection, FileStreamOptions options)
    : connection_(connection), options_(options) {
  if (options_.max_streams == 0 || options_.range_size == 0) {
    throw std::invalid_argument("file streams need max_streams and range_size above 0");
  }
  acknowledgements_ = std::thread([this] { read_acknowledgements(); });
}

FileStreamSender::~FileStreamSender() {
  bool clean;
  {
    std::lock_guard lock(mutex_);
    clean = error_.empty() && in_flight_ == 0;
    stopping_ = true;
    changed_.notify_all();
  }
  // Streams still unacknowledged: nobody will wait for them, and the thread reading their
  // acknowledgements ends only with the connection.
  if (!clean) connection_.abort();
  acknowledgements_.join();
}

void FileStreamSender::fail(const std::string& message) {
  std::lock_guard lock(mutex_);
  if (error_.empty()) error_ = message;
  changed_.notify_all();
}

int64_t FileStreamSender::open_file_stream() {
  {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return in_flight_ < options_.max_streams || !error_.empty(); });
    if (!error_.empty()) throw QuicError(error_);
    ++in_flight_;
    ++opened_;
  }
  try {
    return connection_.open_stream();
  } catch (...) {
    std::lock_guard lock(mutex_);
    --in_flight_;
    changed_.notify_all();
    throw;
  }
}

void FileStreamSender::write_frame(int64_t stream, bool first, uint8_t type,
                                   fsio::ByteBuffer&& payload, bool fin) {
  // The preamble and the frame header go in the room in front of the payload: one write,
  // one command for the loop, no copy.
  const size_t front = control::kFrameHeaderSize + (first ? kPreambleSize : 0);
  if (payload.front_room() < front) payload = fsio::ByteBuffer::copy_of(payload, front);
  const size_t size = payload.size();
  payload.grow_front(control::kFrameHeaderSize);
  control::write_frame_header(static_cast<FrameType>(type), size, payload.data());
  if (first) {
    payload.grow_front(kPreambleSize);
    std::memcpy(payload.data(), kFileStreamPreamble, kPreambleSize);
  }
  connection_.write(stream, std::move(payload), fin);
}

void FileStreamSender::send(engine::ContentChunk&& chunk) {
  const uint64_t id = chunk.id;
  const uint64_t end = chunk.offset + chunk.data.size();
  const bool last = chunk.last;
  OpenFile file;
  {
    std::lock_guard lock(mutex_);
    if (!error_.empty()) throw QuicError(error_);
    if (auto it = open_.find(id); it != open_.end()) file = it->second;
  }
  const bool first = file.stream < 0;
  if (first) {
    file.stream = open_file_stream();
    file.range_start = chunk.offset;
    std::lock_guard lock(mutex_);
    open_[id] = file;
  }
  // A range ends at the first chunk boundary past range_size; the next chunk opens the next.
  const bool fin = last || end - file.range_start >= options_.range_size;
  write_frame(file.stream, first, static_cast<uint8_t>(FrameType::content_chunk),
              encode_chunk_payload(std::move(chunk)), fin);
  if (fin) finished(id, file.stream);
}

bool FileStreamSender::send_failure(const engine::ContentFailed& failed) {
  int64_t stream = -1;
  {
    std::lock_guard lock(mutex_);
    auto it = open_.find(failed.id);
    if (it == open_.end()) return false;
    stream = it->second.stream;
  }
  Bytes encoded = encode_failed(failed);
  write_frame(stream, false, static_cast<uint8_t>(FrameType::content_failed),
              fsio::ByteBuffer::copy_of(encoded, control::kFrameHeaderSize), true);
  finished(failed.id, stream);
  return true;
}

void FileStreamSender::finished(uint64_t id, int64_t stream) {
  std::lock_guard lock(mutex_);
  open_.erase(id);
  finished_.push_back(stream);
  changed_.notify_all();
}

uint64_t FileStreamSender::end() {
  std::vector<std::pair<uint64_t, int64_t>> unfinished;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, file] : open_) unfinished.emplace_back(id, file.stream);
  }
  // A file whose last chunk never came (its sender gave up on it): the receiver sees its
  // stream end early and reports the file as not received.
  for (const auto& [id, stream] : unfinished) {
    connection_.finish(stream);
    finished(id, stream);
  }
  return streams_opened();
}

void FileStreamSender::wait_acknowledged() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return in_flight_ == 0 || !error_.empty(); });
  if (!error_.empty()) throw QuicError(error_);
}

uint64_t FileStreamSender::streams_opened() const {
  std::lock_guard lock(mutex_);
  return opened_;
}

void FileStreamSender::read_acknowledgements() {
  for (;;) {
    int64_t stream;
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return !finished_.empty() || stopping_ || !error_.empty(); });
      if (finished_.empty() || !error_.empty()) return;
      stream = finished_.front();
      finished_.pop_front();
    }
    try {
      uint8_t reply[2];
      size_t got = 0;
      while (got < sizeof reply) {
        const size_t n = connection_.read(stream, {reply + got, sizeof reply - got});
        if (n == 0) break;
        got += n;
      }
      if (got != 1 || reply[0] != kAcknowledged) {
        fail("QUIC stream " + std::to_string(stream) + ": malformed acknowledgement");
        return;
      }
    } catch (const std::exception& e) {
      fail(e.what());
      return;
    }
    std::lock_guard lock(mutex_);
    --in_flight_;
    changed_.notify_all();
  }
}

// ---- receiving side ----

FileStreamReceiver::FileStreamReceiver(QuicConnection& connection, Deliver deliver, size_t readers)
    : connection_(connection), deliver_(std::move(deliver)) {
  for (size_t i = 0; i < std::max<size_t>(readers, 1); ++i) {
    readers_.emplace_back([this] { read_streams(); });
  }
}

FileStreamReceiver::~FileStreamReceiver() {
  stop();
  bool busy;
  {
    std::lock_guard lock(mutex_);
    busy = busy_ > 0;
  }
  // A reader still inside a stream waits for a sender that will not finish it.
  if (busy) connection_.abort();
  for (auto& reader : readers_) reader.join();
}

void FileStreamReceiver::stop() {
  connection_.stop_accepting();
}

void FileStreamReceiver::expect(uint64_t total, std::function<void()> over) {
  {
    std::lock_guard lock(mutex_);
    expected_ = total;
    over_ = std::move(over);
  }
  end_if_over();
}

void FileStreamReceiver::end_if_over() {
  std::function<void()> over;
  bool excess = false;
  {
    std::lock_guard lock(mutex_);
    if (!expected_) return;
    if (streams_read_ > *expected_) {
      excess = true;
      if (error_.empty()) error_ = "more file streams than the sender announced";
    }
    if (over_ && (!error_.empty() || streams_read_ == *expected_)) {
      over = std::move(over_);
      over_ = nullptr;
    }
  }
  if (excess) connection_.abort();
  if (over) {
    stop();
    over();
  }
}

void FileStreamReceiver::fail(const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = message;
  }
  // The sender would wait for an acknowledgement for ever.
  connection_.abort();
  end_if_over();
}

std::string FileStreamReceiver::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

uint64_t FileStreamReceiver::streams_read() const {
  std::lock_guard lock(mutex_);
  return streams_read_;
}

void FileStreamReceiver::read_streams() {
  for (;;) {
    std::optional<int64_t> stream;
    try {
      stream = connection_.accept_stream();
    } catch (const std::exception& e) {
      fail(e.what());
      return;
    }
    if (!stream) return;
    {
      std::lock_guard lock(mutex_);
      ++busy_;
    }
    try {
      read_one(*stream);
      {
        std::lock_guard lock(mutex_);
        ++streams_read_;
      }
      end_if_over();
    } catch (const std::exception& e) {
      fail("QUIC stream " + std::to_string(*stream) + ": " + e.what());
    }
    std::lock_guard lock(mutex_);
    --busy_;
  }
}

void FileStreamReceiver::read_one(int64_t stream_id) {
  QuicByteStream stream(connection_, stream_id);
  char preamble[kPreambleSize];
  size_t got = 0;
  while (got < kPreambleSize) {
    const size_t n = stream.read_some(preamble + got, kPreambleSize - got);
    if (n == 0) throw control::FrameError("the stream ended before its preamble");
    got += n;
  }
  if (std::string_view(preamble, kPreambleSize) != kFileStreamPreamble) {
    throw control::FrameError("not an arsync file stream");
  }
  control::FrameReader reader(stream);
  std::optional<uint64_t> file;
  bool ended = false;
  std::string error;
  while (auto frame = reader.next()) {
    if (ended) throw control::FrameError("frames after the end of the file's content");
    uint64_t id = 0;
    if (frame->type == FrameType::content_chunk) {
      auto chunk = decode_chunk(std::move(frame->payload), error);
      if (!chunk) throw control::FrameError("malformed content: " + error);
      id = chunk->id;
      ended = chunk->last;
      if (file && *file != id) throw control::FrameError("content of two files on one stream");
      file = id;
      deliver_(std::move(*chunk));
    } else if (frame->type == FrameType::content_failed) {
      auto failed = decode_failed(frame->payload, error);
      if (!failed) throw control::FrameError("malformed failure: " + error);
      if (file && *file != failed->id) {
        throw control::FrameError("content of two files on one stream");
      }
      ended = true;
      deliver_(std::move(*failed));
    } else {
      throw control::FrameError("unexpected frame type " +
                                std::to_string(static_cast<int>(frame->type)) +
                                " on a file stream");
    }
  }
  if (!file && !ended) throw control::FrameError("a file stream without content");
  const uint8_t reply = kAcknowledged;
  connection_.write(stream_id, {&reply, 1}, /*fin=*/true);
}

}  // namespace arsync::dataplane
