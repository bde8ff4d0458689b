// A receiver's channel that forwards everything to an in-memory channel, with a hook on
// the content stream and one on requests: tests use them to damage what crosses.
#pragma once

#include <functional>
#include <optional>

#include "arsync/engine/channel.h"
#include "arsync/engine/memory_channel.h"

namespace arsync::engine {

class TamperingChannel final : public ReceiverChannel {
 public:
  explicit TamperingChannel(MemoryChannel& inner) : inner_(inner) {}
  std::function<void(ContentMessage&)> on_content;
  std::function<void(RequestMessage&)> on_request;

  std::optional<fsio::DirBatch> next_batch() override { return inner_.next_batch(); }
  bool carries_delta() const override { return inner_.carries_delta(); }
  void request(RequestMessage r) override {
    if (on_request) on_request(r);
    inner_.request(std::move(r));
  }
  void end_requests() override { inner_.end_requests(); }
  std::optional<ContentMessage> next_content() override {
    auto m = inner_.next_content();
    if (m && on_content) on_content(*m);
    return m;
  }

 private:
  MemoryChannel& inner_;
};

}  // namespace arsync::engine
