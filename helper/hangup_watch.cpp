#include "helper/hangup_watch.h"

#include <poll.h>
#include <sys/ioctl.h>

namespace arsync::helper {

HangupWatch::HangupWatch(int fd, std::function<void()> on_hangup)
    : fd_(fd), on_hangup_(std::move(on_hangup)), thread_([this] { run(); }) {}

HangupWatch::~HangupWatch() {
  stop_.wake();
  thread_.join();
}

void HangupWatch::run() {
  for (;;) {
    pollfd pfds[2] = {{fd_, POLLIN, 0}, {stop_.fd(), POLLIN, 0}};
    if (::poll(pfds, 2, -1) <= 0) continue;
    if (pfds[1].revents != 0) return;  // stopped
    const pollfd& pfd = pfds[0];
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
