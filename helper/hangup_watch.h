// Watches the SSH side of the session while the data travel over QUIC: when the client's
// end of it closes (the client is gone), calls `on_hangup` once, so that the QUIC
// connection can be abandoned at once instead of at its idle timeout. It never reads: data
// arriving there (the client's ack_complete) just ends the watch.
#pragma once

#include <functional>
#include <thread>

#include "dataplane/wakeup_fd.h"

namespace arsync::helper {

class HangupWatch {
 public:
  HangupWatch(int fd, std::function<void()> on_hangup);
  // Stops watching, at once.
  ~HangupWatch();
  HangupWatch(const HangupWatch&) = delete;
  HangupWatch& operator=(const HangupWatch&) = delete;

 private:
  void run();

  int fd_;
  std::function<void()> on_hangup_;
  dataplane::WakeupFd stop_;
  std::thread thread_;
};

}  // namespace arsync::helper
