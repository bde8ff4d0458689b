#include "arsync/cli/stderr_relay.h"

#include <chrono>
#include <cstdio>

namespace arsync::cli {

StderrRelay::StderrRelay(control::SshExecChannel& channel, std::string host)
    : channel_(channel), host_(std::move(host)), thread_([this] { run(); }) {}

StderrRelay::~StderrRelay() {
  stop();
}

void StderrRelay::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  flush_partial();
}

void StderrRelay::run() {
  char buf[4096];
  while (!stop_) {
    size_t n = channel_.read_stderr_some(buf, sizeof buf, std::chrono::milliseconds(50));
    if (n == 0) {
      if (channel_.stderr_ended()) return;
      continue;
    }
    pending_.append(buf, n);
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      std::fprintf(stderr, "%s: %s\n", host_.c_str(), pending_.substr(0, nl).c_str());
      pending_.erase(0, nl + 1);
    }
  }
}

void StderrRelay::flush_partial() {
  if (!pending_.empty()) std::fprintf(stderr, "%s: %s\n", host_.c_str(), pending_.c_str());
  pending_.clear();
}

}  // namespace arsync::cli
