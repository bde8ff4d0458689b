#include "dataplane/wakeup_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "dataplane/quic_error.h"

namespace arsync::dataplane {

WakeupFd::WakeupFd() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!fd_) throw QuicError(std::string("eventfd: ") + std::strerror(errno));
}

void WakeupFd::wake() {
  uint64_t one = 1;
  // Only fails (EAGAIN) when the counter is about to overflow: it is readable then anyway.
  while (::write(fd_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void WakeupFd::drain() {
  uint64_t count = 0;
  while (::read(fd_.get(), &count, sizeof(count)) < 0 && errno == EINTR) {
  }
}

}  // namespace arsync::dataplane
