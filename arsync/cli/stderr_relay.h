// Shows the helper's stderr as it arrives, each line prefixed with the host.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "control/ssh_session.h"

namespace arsync::cli {

class StderrRelay {
 public:
  StderrRelay(control::SshExecChannel& channel, std::string host);
  // stop()
  ~StderrRelay();
  StderrRelay(const StderrRelay&) = delete;
  StderrRelay& operator=(const StderrRelay&) = delete;

  // Stops reading and prints what is left of a last, unfinished line.
  void stop();

 private:
  void run();
  void flush_partial();

  control::SshExecChannel& channel_;
  std::string host_;
  std::string pending_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace arsync::cli
