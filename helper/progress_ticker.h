// Sends the client a `progress` message about once a second while this side receives, and
// once more when it stops, so that a pushing client can show what has landed here.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "arsync/engine/transfer_stats.h"
#include "control/frame.h"

namespace arsync::helper {

class ProgressTicker {
 public:
  ProgressTicker(control::FrameWriter& writer, const engine::TransferStats& stats);
  // stop() if still running.
  ~ProgressTicker();
  ProgressTicker(const ProgressTicker&) = delete;
  ProgressTicker& operator=(const ProgressTicker&) = delete;

  // Ends the ticks and sends the final count.
  void stop();

 private:
  void send();

  control::FrameWriter& writer_;
  const engine::TransferStats& stats_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace arsync::helper
