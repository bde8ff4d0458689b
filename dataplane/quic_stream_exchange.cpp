#include "dataplane/quic_stream_exchange.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "dataplane/quic_error.h"

namespace arsync::dataplane {

// ---- ReceiveQueue ----

void ReceiveQueue::append(std::span<const uint8_t> data) {
  constexpr size_t kFirstChunk = 2048;
  constexpr size_t kLargestChunk = 64 * 1024;
  while (!data.empty()) {
    if (chunks_.empty() || chunks_.back().size() == chunks_.back().capacity()) {
      size_t previous = chunks_.empty() ? kFirstChunk / 2 : chunks_.back().capacity();
      std::vector<uint8_t> chunk;
      chunk.reserve(std::clamp(previous * 2, kFirstChunk, kLargestChunk));
      chunks_.push_back(std::move(chunk));
    }
    auto& back = chunks_.back();
    size_t n = std::min(data.size(), back.capacity() - back.size());
    back.insert(back.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(n));
    data = data.subspan(n);
    size_ += n;
  }
}

size_t ReceiveQueue::take(std::span<uint8_t> out) {
  size_t taken = 0;
  while (taken < out.size() && !chunks_.empty()) {
    auto& front = chunks_.front();
    size_t n = std::min(out.size() - taken, front.size() - front_offset_);
    std::memcpy(out.data() + taken, front.data() + front_offset_, n);
    taken += n;
    front_offset_ += n;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  size_ -= taken;
  return taken;
}

void ReceiveQueue::clear() {
  chunks_.clear();
  front_offset_ = 0;
  size_ = 0;
}

// ---- StreamExchange: application side ----

StreamExchange::StreamExchange(const QuicOptions& options, bool is_server)
    : options_(options), first_local_stream_(is_server ? 1 : 0) {}

std::shared_ptr<StreamExchange::Stream> StreamExchange::find(int64_t stream) const {
  auto it = streams_.find(stream);
  if (it == streams_.end())
    throw std::logic_error("QUIC stream " + std::to_string(stream) + " is not open");
  return it->second;
}

void StreamExchange::throw_over() const {
  throw QuicError(error_.empty() ? std::string("the QUIC connection is closed") : error_);
}

bool StreamExchange::note_wake() {
  return !std::exchange(wake_pending_, true);
}

bool StreamExchange::queue(StreamCommand&& command) {
  commands_.push_back(std::move(command));
  return note_wake();
}

std::optional<int64_t> StreamExchange::open_locked() {
  if (local_opened_ >= local_allowed_ || local_open_ >= options_.max_streams) return std::nullopt;
  // ngtcp2 hands out stream ids in order, so the id is known before the loop opens it.
  int64_t id = first_local_stream_ + 4 * static_cast<int64_t>(local_opened_);
  ++local_opened_;
  ++local_open_;
  streams_.emplace(id, std::make_shared<Stream>());
  return id;
}

int64_t StreamExchange::open_stream() {
  std::unique_lock lock(mutex_);
  std::optional<int64_t> id;
  can_open_.wait(lock, [&] { return over_ || (id = open_locked()).has_value(); });
  if (!id) throw_over();
  StreamCommand command;
  command.kind = StreamCommand::Kind::open;
  command.stream = *id;
  bool wake = queue(std::move(command));
  lock.unlock();
  if (wake) wakeup_.wake();
  return *id;
}

std::optional<int64_t> StreamExchange::try_open_stream() {
  std::unique_lock lock(mutex_);
  if (over_) throw_over();
  auto id = open_locked();
  if (!id) return std::nullopt;
  StreamCommand command;
  command.kind = StreamCommand::Kind::open;
  command.stream = *id;
  bool wake = queue(std::move(command));
  lock.unlock();
  if (wake) wakeup_.wake();
  return id;
}

std::optional<int64_t> StreamExchange::accept_stream() {
  std::unique_lock lock(mutex_);
  incoming_.wait(lock, [&] { return over_ || accept_stopped_ || !accept_queue_.empty(); });
  // Streams that arrived before the end are still handed out: their data may be complete.
  if (!accept_queue_.empty()) {
    int64_t id = accept_queue_.front();
    accept_queue_.pop_front();
    return id;
  }
  if (!error_.empty()) throw QuicError(error_);
  return std::nullopt;
}

void StreamExchange::stop_accepting() {
  std::lock_guard lock(mutex_);
  accept_stopped_ = true;
  incoming_.notify_all();
}

void StreamExchange::write(int64_t stream, fsio::ByteBuffer&& data, bool fin) {
  std::unique_lock lock(mutex_);
  auto state = find(stream);
  if (state->fin_written)
    throw std::logic_error("QUIC stream " + std::to_string(stream) + " was already finished");
  size_t size = data.size();
  // One write larger than a whole buffer still goes through when nothing else is waiting.
  send_space_.wait(lock, [&] {
    return over_ || state->write_refused ||
           ((unacked_ == 0 || unacked_ + size <= options_.send_buffer) &&
            (state->unacked == 0 || state->unacked + size <= options_.stream_send_buffer));
  });
  if (over_) throw_over();
  if (state->write_refused) throw QuicStreamReset(stream, *state->write_refused);
  unacked_ += size;
  state->unacked += size;
  state->fin_written = fin;
  StreamCommand command;
  command.kind = StreamCommand::Kind::write;
  command.stream = stream;
  command.data = std::move(data);
  command.fin = fin;
  bool wake = queue(std::move(command));
  lock.unlock();
  if (wake) wakeup_.wake();
}

size_t StreamExchange::read(int64_t stream, std::span<uint8_t> out) {
  // Smaller reads (a frame header) are not worth the bookkeeping.
  constexpr size_t kPostAtLeast = 4096;
  std::unique_lock lock(mutex_);
  auto state = find(stream);
  const bool posting = out.size() >= kPostAtLeast && state->posted.empty() &&
                       state->received.empty() && !state->fin_received && !state->reset_code &&
                       !over_;
  if (posting) {
    state->posted = out;
    state->posted_filled = 0;
  }
  ++state->readers_waiting;
  state->readable.wait(lock, [&] {
    return !state->received.empty() || (posting && state->posted_filled > 0) ||
           state->fin_received || state->reset_code || over_;
  });
  --state->readers_waiting;
  size_t n = 0;
  if (posting) {
    n = state->posted_filled;
    state->posted = {};
    state->posted_filled = 0;
  }
  if (n == 0 && !state->received.empty() && !out.empty()) n = state->received.take(out);
  if (n > 0) {
    // Credit goes back only now, so unread data never exceeds the receive windows.
    stream_credit_[stream] += n;
    connection_credit_ += n;
    bool wake = over_ ? false : note_wake();
    lock.unlock();
    if (wake) wakeup_.wake();
    return n;
  }
  if (state->received.empty() && state->fin_received) {
    state->read_done = true;
    forget_if_done(stream, *state);
    return 0;
  }
  if (state->reset_code) {
    state->read_done = true;
    forget_if_done(stream, *state);
    throw QuicStreamReset(stream, *state->reset_code);
  }
  if (over_) {
    if (!error_.empty()) throw QuicError(error_);
    throw QuicError("the QUIC connection closed before stream " + std::to_string(stream) +
                    " ended");
  }
  return 0;  // out is empty
}

void StreamExchange::reset(int64_t stream, uint64_t code) {
  std::unique_lock lock(mutex_);
  auto state = find(stream);
  if (over_) return;
  state->read_done = true;
  state->fin_written = true;
  discard_received(*state);
  StreamCommand command;
  command.kind = StreamCommand::Kind::reset;
  command.stream = stream;
  command.code = code;
  bool wake = queue(std::move(command));
  lock.unlock();
  if (wake) wakeup_.wake();
}

void StreamExchange::request_close(bool now) {
  std::unique_lock lock(mutex_);
  if (over_ || (close_requested_ && (close_now_requested_ || !now))) return;
  close_requested_ = true;
  close_now_requested_ = close_now_requested_ || now;
  bool wake = note_wake();
  lock.unlock();
  if (wake) wakeup_.wake();
}

void StreamExchange::request_abort() {
  std::unique_lock lock(mutex_);
  abort_requested_ = true;
  bool wake = note_wake();
  lock.unlock();
  if (wake) wakeup_.wake();
}

void StreamExchange::wait_established() {
  std::unique_lock lock(mutex_);
  state_changed_.wait(lock, [&] { return established_ || over_; });
  if (!established_)
    throw QuicHandshakeError(error_.empty() ? std::string("the QUIC handshake did not complete")
                                            : error_);
}

QuicStats StreamExchange::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::string StreamExchange::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

bool StreamExchange::over() const {
  std::lock_guard lock(mutex_);
  return over_;
}

// ---- StreamExchange: loop side ----

LoopCommands StreamExchange::take_commands() {
  LoopCommands taken;
  std::lock_guard lock(mutex_);
  wake_pending_ = false;
  taken.commands.swap(commands_);
  taken.stream_credit.assign(stream_credit_.begin(), stream_credit_.end());
  stream_credit_.clear();
  taken.connection_credit = std::exchange(connection_credit_, 0);
  taken.close = close_requested_;
  taken.close_now = close_now_requested_;
  taken.abort = abort_requested_;
  return taken;
}

void StreamExchange::on_established() {
  std::lock_guard lock(mutex_);
  established_ = true;
  state_changed_.notify_all();
}

void StreamExchange::on_local_stream_limit(uint64_t max_streams) {
  std::lock_guard lock(mutex_);
  if (max_streams > local_allowed_) {
    local_allowed_ = max_streams;
    can_open_.notify_all();
  }
}

void StreamExchange::on_remote_stream_open(int64_t stream) {
  std::lock_guard lock(mutex_);
  streams_.emplace(stream, std::make_shared<Stream>());
  accept_queue_.push_back(stream);
  incoming_.notify_one();
}

void StreamExchange::on_stream_data(int64_t stream, std::span<const uint8_t> data, bool fin) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second->read_done) {
    // The application reset or forgot the stream: nobody will read this.
    connection_credit_ += data.size();
    if (note_wake()) wakeup_.wake();
    return;
  }
  Stream& state = *it->second;
  if (!data.empty() && !state.posted.empty() && state.received.empty()) {
    const size_t n = std::min(data.size(), state.posted.size() - state.posted_filled);
    std::memcpy(state.posted.data() + state.posted_filled, data.data(), n);
    state.posted_filled += n;
    data = data.subspan(n);
  }
  if (!data.empty()) state.received.append(data);
  if (fin) state.fin_received = true;
  if (state.readers_waiting > 0 && !state.wake_due) {
    state.wake_due = true;
    streams_to_wake_.push_back(it->second);
  }
}

void StreamExchange::wake_readers() {
  std::lock_guard lock(mutex_);
  for (auto& state : streams_to_wake_) {
    state->wake_due = false;
    state->readable.notify_all();
  }
  streams_to_wake_.clear();
}

void StreamExchange::on_stream_reset(int64_t stream, uint64_t code) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  if (!it->second->fin_received) {
    it->second->reset_code = code;
    discard_received(*it->second);
  }
  it->second->readable.notify_all();
}

void StreamExchange::on_write_refused(int64_t stream, uint64_t code) {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  if (!it->second->write_refused) it->second->write_refused = code;
  send_space_.notify_all();
}

void StreamExchange::on_stream_closed(int64_t stream, bool local, std::optional<uint64_t> code) {
  std::lock_guard lock(mutex_);
  if (local && local_open_ > 0) {
    --local_open_;
    can_open_.notify_all();
  }
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  auto state = it->second;
  state->closed = true;
  if (code) {
    if (!state->fin_received && !state->reset_code) state->reset_code = *code;
    if (!state->write_refused) state->write_refused = *code;
  }
  state->readable.notify_all();
  send_space_.notify_all();
  forget_if_done(stream, *state);
}

void StreamExchange::discard_received(Stream& state) {
  if (state.received.empty()) return;
  connection_credit_ += state.received.size();
  state.received.clear();
  if (note_wake()) wakeup_.wake();
}

void StreamExchange::forget_if_done(int64_t stream, const Stream& state) {
  if (state.closed && state.read_done) streams_.erase(stream);
}

void StreamExchange::release_sent(std::span<const std::pair<int64_t, size_t>> released) {
  if (released.empty()) return;
  std::lock_guard lock(mutex_);
  for (auto [stream, bytes] : released) {
    unacked_ -= std::min(unacked_, bytes);
    auto it = streams_.find(stream);
    if (it != streams_.end()) it->second->unacked -= std::min(it->second->unacked, bytes);
  }
  send_space_.notify_all();
}

void StreamExchange::publish_stats(const QuicStats& stats) {
  std::lock_guard lock(mutex_);
  stats_ = stats;
}

void StreamExchange::finish(const std::string& error) {
  std::lock_guard lock(mutex_);
  if (over_) return;
  over_ = true;
  error_ = error;
  state_changed_.notify_all();
  can_open_.notify_all();
  incoming_.notify_all();
  send_space_.notify_all();
  for (auto& [id, state] : streams_) state->readable.notify_all();
}

}  // namespace arsync::dataplane
