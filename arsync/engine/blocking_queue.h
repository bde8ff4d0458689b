// A FIFO between threads, optionally bounded so a fast producer waits for its consumer
// (the file list must stream through the engine, not pile up in memory).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

namespace arsync::engine {

template <typename T>
class BlockingQueue {
 public:
  explicit BlockingQueue(size_t capacity = 0) : capacity_(capacity) {}

  // `wait_for_room=false` skips the bound, for items bounded elsewhere.
  void push(T value, bool wait_for_room = true) {
    std::unique_lock lock(mutex_);
    if (wait_for_room)
      not_full_.wait(lock, [&] { return capacity_ == 0 || items_.size() < capacity_ || closed_; });
    items_.push_back(std::move(value));
    not_empty_.notify_one();
  }

  // No more pushes; pop() drains what is left, then returns nullopt.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return value;
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace arsync::engine
