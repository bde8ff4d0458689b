// An eventfd that application threads write to wake an event loop sleeping in ppoll.
#pragma once

#include "fsio/unique_fd.h"

namespace arsync::dataplane {

class WakeupFd {
 public:
  WakeupFd();  // throws QuicError
  int fd() const { return fd_.get(); }
  // Any thread: makes fd() readable.
  void wake();
  // The loop, after waking: makes fd() unreadable again.
  void drain();

 private:
  fsio::UniqueFd fd_;
};

}  // namespace arsync::dataplane
