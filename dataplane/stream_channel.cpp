#include "dataplane/stream_channel.h"

#include <algorithm>

#include "dataplane/wire_codec.h"

namespace arsync::dataplane {

static_assert(kFrameRoom == control::kFrameHeaderSize);

using control::Frame;
using control::FrameType;

void send_log(control::FrameWriter& writer, bool is_error, std::string_view line) {
  constexpr size_t kMaxLine = 64 * 1024;
  std::vector<uint8_t> payload;
  payload.reserve(1 + std::min(line.size(), kMaxLine));
  payload.push_back(is_error ? 1 : 0);
  line = line.substr(0, kMaxLine);
  payload.insert(payload.end(), line.begin(), line.end());
  writer.write(FrameType::log, payload);
}

StreamChannelBase::StreamChannelBase(control::ByteStream& in, control::FrameWriter& out,
                                     PeerMessages peer)
    : writer_(out), reader_(in), peer_(std::move(peer)) {}

StreamChannelBase::~StreamChannelBase() = default;

void StreamChannelBase::start_reader() {
  thread_ = std::thread([this] { read_loop(); });
}

void StreamChannelBase::stop_reader() {
  if (thread_.joinable()) thread_.join();
}

std::string StreamChannelBase::error() const {
  std::lock_guard lock(error_mutex_);
  return error_;
}

void StreamChannelBase::fail(const std::string& message) {
  std::lock_guard lock(error_mutex_);
  if (error_.empty()) error_ = message;
}

template <typename Payload>
void StreamChannelBase::send_frame_impl(FrameType type, Payload&& payload) {
  if (broken_.load()) return;
  try {
    writer_.write(type, std::forward<Payload>(payload));
  } catch (const std::exception& e) {
    broken_ = true;
    fail(std::string("cannot send to the peer: ") + e.what());
  }
}

void StreamChannelBase::send_frame(FrameType type, std::span<const uint8_t> payload) {
  send_frame_impl(type, payload);
}

void StreamChannelBase::send_frame(FrameType type, fsio::ByteBuffer&& payload) {
  send_frame_impl(type, std::move(payload));
}

void StreamChannelBase::read_loop() {
  try {
    bool more = true;
    while (more) {
      auto frame = reader_.next();
      if (!frame) throw control::FrameError("the peer closed the stream during the transfer");
      if (control::dispatch_peer_message(*frame, peer_)) continue;
      if (frame->type == FrameType::control) {
        throw control::ProtocolError("unexpected control message during the transfer");
      }
      more = on_frame(*frame);
    }
  } catch (const std::exception& e) {
    fail(e.what());
  }
  on_end();
}

// ---- sender side ----

StreamSenderChannel::StreamSenderChannel(control::ByteStream& in, control::FrameWriter& out,
                                         PeerMessages peer, ContentStreams content)
    : StreamChannelBase(in, out, std::move(peer)) {
  if (content.connection) {
    files_ = std::make_unique<FileStreamSender>(*content.connection, content.options);
  }
  start_reader();
}

StreamSenderChannel::~StreamSenderChannel() {
  stop_reader();
}

void StreamSenderChannel::send_batch(fsio::DirBatch&& batch) {
  // A huge directory goes out as parts (never marked complete) and a final batch that
  // carries the real flag; the receiving channel joins them, so --delete sees it whole.
  // 16384 entries of at most 4 KiB of names and targets each could still pass a frame, so
  // the part is halved until it fits.
  size_t start = 0;
  while (batch.entries.size() - start > kEntriesPerFrame) {
    size_t count = kEntriesPerFrame;
    for (;;) {
      fsio::DirBatch part;
      part.dir = batch.dir;
      part.entries.assign(std::make_move_iterator(batch.entries.begin() + start),
                          std::make_move_iterator(batch.entries.begin() + start + count));
      Bytes encoded = encode_batch(part);
      if (encoded.size() < control::kMaxFrame || count == 1) {
        send_frame(FrameType::list_batch_part, encoded);
        break;
      }
      std::move(part.entries.begin(), part.entries.end(), batch.entries.begin() + start);
      count /= 2;
    }
    start += count;
  }
  batch.entries.erase(batch.entries.begin(), batch.entries.begin() + start);
  send_frame(FrameType::list_batch, encode_batch(batch));
}

void StreamSenderChannel::end_list() {
  send_frame(FrameType::list_end);
}

std::optional<engine::RequestMessage> StreamSenderChannel::next_request() {
  return requests_.pop();
}

void StreamSenderChannel::send_content(engine::ContentMessage&& message) {
  auto* chunk = std::get_if<engine::ContentChunk>(&message);
  auto* failed = std::get_if<engine::ContentFailed>(&message);
  if (files_ && (chunk || failed)) {
    try {
      if (chunk) {
        files_->send(std::move(*chunk));
        return;
      }
      if (files_->send_failure(*failed)) return;
    } catch (const std::exception& e) {
      fail(std::string("cannot send to the peer: ") + e.what());
      return;
    }
  }
  if (chunk) {
    send_frame(FrameType::content_chunk, encode_chunk_payload(std::move(*chunk)));
  } else if (failed) {
    send_frame(FrameType::content_failed, encode_failed(*failed));
  } else if (auto* probe = std::get_if<engine::DeltaProbe>(&message)) {
    send_frame(FrameType::delta_probe, encode_delta({probe->id, std::move(probe->probe)}));
  } else if (auto* recipe = std::get_if<engine::DeltaRecipe>(&message)) {
    send_frame(FrameType::delta_recipe, encode_delta({recipe->id, std::move(recipe->part)}));
  } else if (auto* digest = std::get_if<engine::ContentDigest>(&message)) {
    send_frame(FrameType::content_digest, encode_digest(*digest));
  } else {
    // Descriptors cannot cross machines; the engine asks can_pass_fds() first.
    throw std::logic_error("file descriptors cannot travel over a stream channel");
  }
}

void StreamSenderChannel::end_content() {
  if (!files_) {
    send_frame(FrameType::content_end);
    return;
  }
  // content_end may overtake the file streams' last bytes: it says how many there are, and
  // the receiver ends the content once it has read them all.
  send_frame(FrameType::content_end, encode_content_end(files_->end()));
  try {
    files_->wait_acknowledged();
  } catch (const std::exception& e) {
    fail(std::string("cannot send to the peer: ") + e.what());
  }
}

bool StreamSenderChannel::on_frame(Frame& frame) {
  std::string error;
  switch (frame.type) {
    case FrameType::request:
      if (auto request = decode_request(frame.payload, error)) {
        requests_.push(std::move(*request));
        return true;
      }
      break;
    case FrameType::delta_request:
      if (auto delta = decode_delta(frame.payload, error)) {
        requests_.push(engine::DeltaRequest{delta->id, std::move(delta->message)});
        return true;
      }
      break;
    case FrameType::delta_answer:
      if (auto delta = decode_delta(frame.payload, error)) {
        requests_.push(engine::DeltaAnswer{delta->id, std::move(delta->message)});
        return true;
      }
      break;
    case FrameType::requests_end:
      requests_.close();
      return false;
    default:
      error = "unexpected frame type " + std::to_string(static_cast<int>(frame.type)) +
              " from the receiver";
      break;
  }
  throw control::FrameError("malformed request from the receiver: " + error);
}

void StreamSenderChannel::on_end() {
  requests_.close();
}

// ---- receiver side ----

StreamReceiverChannel::StreamReceiverChannel(control::ByteStream& in, control::FrameWriter& out,
                                             PeerMessages peer, ContentStreams content)
    : StreamChannelBase(in, out, std::move(peer)) {
  if (content.connection) {
    files_ = std::make_unique<FileStreamReceiver>(
        *content.connection,
        [this](engine::ContentMessage&& message) { content_.push(std::move(message)); });
  }
  start_reader();
}

StreamReceiverChannel::~StreamReceiverChannel() {
  stop_reader();
  files_.reset();
}

std::optional<fsio::DirBatch> StreamReceiverChannel::next_batch() {
  return batches_.pop();
}

void StreamReceiverChannel::request(engine::RequestMessage request) {
  if (auto* whole = std::get_if<engine::ContentRequest>(&request)) {
    send_frame(FrameType::request, encode_request(*whole));
  } else if (auto* delta = std::get_if<engine::DeltaRequest>(&request)) {
    send_frame(FrameType::delta_request, encode_delta({delta->id, std::move(delta->signature)}));
  } else {
    auto& answer = std::get<engine::DeltaAnswer>(request);
    send_frame(FrameType::delta_answer, encode_delta({answer.id, std::move(answer.answer)}));
  }
}

void StreamReceiverChannel::end_requests() {
  send_frame(FrameType::requests_end);
}

std::optional<engine::ContentMessage> StreamReceiverChannel::next_content() {
  return content_.pop();
}

bool StreamReceiverChannel::on_frame(Frame& frame) {
  std::string error;
  switch (frame.type) {
    case FrameType::list_batch_part:
    case FrameType::list_batch:
      if (list_ended_) break;
      if (auto batch = decode_batch(frame.payload, error)) {
        if (!join_part(*batch, frame.type == FrameType::list_batch_part, error)) break;
        return true;
      }
      break;
    case FrameType::list_end:
      list_ended_ = true;
      batches_.close();
      return !content_ended_;
    case FrameType::content_chunk:
      if (content_ended_) break;
      if (auto chunk = decode_chunk(std::move(frame.payload), error)) {
        content_.push(std::move(*chunk), false);
        return true;
      }
      break;
    case FrameType::content_failed:
      if (content_ended_) break;
      if (auto failed = decode_failed(frame.payload, error)) {
        content_.push(std::move(*failed), false);
        return true;
      }
      break;
    case FrameType::delta_probe:
      if (content_ended_) break;
      if (auto delta = decode_delta(frame.payload, error)) {
        content_.push(engine::DeltaProbe{delta->id, std::move(delta->message)}, false);
        return true;
      }
      break;
    case FrameType::delta_recipe:
      if (content_ended_) break;
      if (auto delta = decode_delta(frame.payload, error)) {
        content_.push(engine::DeltaRecipe{delta->id, std::move(delta->message)}, false);
        return true;
      }
      break;
    case FrameType::content_digest:
      if (content_ended_) break;
      if (auto digest = decode_digest(frame.payload, error)) {
        content_.push(std::move(*digest));
        return true;
      }
      break;
    case FrameType::content_end:
      if (content_ended_) break;
      content_ended_ = true;
      if (!files_) {
        if (!frame.payload.empty()) break;
        content_.close();
        return !list_ended_;
      }
      if (auto streams = decode_content_end(frame.payload, error)) {
        content_in_streams_ = true;
        files_->expect(*streams, [this] { content_.close(); });
        return !list_ended_;
      }
      break;
    default:
      break;
  }
  if (error.empty()) {
    error = "unexpected frame type " + std::to_string(static_cast<int>(frame.type));
  }
  throw control::FrameError("malformed data from the sender: " + error);
}

bool StreamReceiverChannel::join_part(fsio::DirBatch& batch, bool more, std::string& error) {
  if (partial_) {
    if (batch.dir != partial_->dir) {
      error = "parts of directory \"" + partial_->dir + "\" interrupted by another directory";
      return false;
    }
    if (partial_->entries.size() + batch.entries.size() > kMaxDirEntries) {
      error = "directory \"" + batch.dir + "\" has too many entries";
      return false;
    }
    partial_->entries.insert(partial_->entries.end(),
                             std::make_move_iterator(batch.entries.begin()),
                             std::make_move_iterator(batch.entries.end()));
    partial_->complete = batch.complete;
  } else {
    partial_ = std::move(batch);
  }
  if (more) {
    if (partial_->complete) {
      error = "a part of a directory's batch is marked complete";
      return false;
    }
    return true;
  }
  batches_.push(std::move(*partial_));
  partial_.reset();
  return true;
}

void StreamReceiverChannel::on_end() {
  batches_.close();
  // After a clean content_end over QUIC, file streams may still be arriving: the content
  // ends when they are read (or fail), not with this stream.
  if (!content_in_streams_ || !error().empty()) content_.close();
}

}  // namespace arsync::dataplane
