#include "helper/progress_ticker.h"

#include <chrono>
#include <exception>

#include "control/session_messages.h"

namespace arsync::helper {

namespace {
constexpr std::chrono::seconds kInterval(1);
}  // namespace

ProgressTicker::ProgressTicker(control::FrameWriter& writer, const engine::TransferStats& stats)
    : writer_(writer), stats_(stats) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kInterval, [this] { return stopping_; })) send();
  });
}

ProgressTicker::~ProgressTicker() {
  stop();
}

void ProgressTicker::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  send();
}

void ProgressTicker::send() {
  try {
    control::post_control(writer_, control::make_progress({stats_.files_done, stats_.bytes_done}));
  } catch (const std::exception&) {
    // The client is gone: the transfer itself reports that.
  }
}

}  // namespace arsync::helper
