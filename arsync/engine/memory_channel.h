// Sender and receiver in one process: the local mode.
#pragma once

#include "arsync/engine/blocking_queue.h"
#include "arsync/engine/channel.h"

namespace arsync::engine {

class MemoryChannel final : public SenderChannel, public ReceiverChannel {
 public:
  // pass_fds=false makes content travel as bytes, as it does over a network.
  explicit MemoryChannel(bool pass_fds = true) : pass_fds_(pass_fds) {}

  bool can_pass_fds() const override { return pass_fds_; }
  void send_batch(fsio::DirBatch&& batch) override { list_.push(std::move(batch)); }
  void end_list() override { list_.close(); }
  std::optional<RequestMessage> next_request() override { return requests_.pop(); }
  // Only byte chunks and recipe parts (which carry literal bytes) wait for room: every other
  // content message answers one request, and the receiver's in-flight window already bounds
  // those (and the sender serves them from tasks that must not block).
  void send_content(ContentMessage&& message) override {
    bool carries_data = std::holds_alternative<ContentChunk>(message) ||
                        std::holds_alternative<DeltaRecipe>(message);
    content_.push(std::move(message), carries_data);
  }
  void end_content() override { content_.close(); }

  std::optional<fsio::DirBatch> next_batch() override { return list_.pop(); }
  bool carries_delta() const override { return true; }
  void request(RequestMessage request) override { requests_.push(std::move(request)); }
  void end_requests() override { requests_.close(); }
  std::optional<ContentMessage> next_content() override { return content_.pop(); }

 private:
  static constexpr size_t kListDepth = 64;      // batches: bounds the list in memory
  static constexpr size_t kContentDepth = 256;  // content messages

  bool pass_fds_;
  BlockingQueue<fsio::DirBatch> list_{kListDepth};
  // Unbounded: requests are a few bytes, and a bound on both directions could deadlock.
  BlockingQueue<RequestMessage> requests_;
  BlockingQueue<ContentMessage> content_{kContentDepth};
};

}  // namespace arsync::engine
