#include "helper/hangup_watch.h"

#include <poll.h>
#include <sys/ioctl.h>

namespace arsync::helper {
namespace {
constexpr int kPollIntervalMs = 100;  // how soon the destructor is obeyed
}  // namespace

HangupWatch::HangupWatch(int fd, std::function<void()> on_hangup)
    : fd_(fd), on_hangup_(std::move(on_hangup)), thread_([this] { run(); }) {}

HangupWatch::~HangupWatch() {
  stop_ = true;
  thread_.join();
}

void HangupWatch::run() {
  while (!stop_) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, kPollIntervalMs) <= 0) continue;
    int pending = 0;
    const bool readable = (pfd.revents & POLLIN) != 0;
    if (readable && ::ioctl(fd_, FIONREAD, &pending) == 0 && pending > 0) return;  // data
    if (readable || (pfd.revents & (POLLHUP | POLLERR)) != 0) {
      on_hangup_();  // end of file: the client closed its end
      return;
    }
  }
}

}  // namespace arsync::helper
