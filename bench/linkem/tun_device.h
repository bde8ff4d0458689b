// A TUN device (IFF_TUN | IFF_NO_PI: each read or write is one bare IP packet) that exists as
// long as its file descriptor is open. The device may be moved to another network namespace
// (`ip link set dev NAME netns NS`) while open: the descriptor stays attached to it.
#pragma once

#include <string>

#include "fsio/unique_fd.h"

namespace arsync::linkem {

class TunDevice {
 public:
  // Creates device `name` (at most 15 characters) in this process's network namespace, with
  // a non-blocking descriptor, and sets its MTU. Throws std::runtime_error.
  TunDevice(const std::string& name, int mtu);

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

 private:
  fsio::UniqueFd fd_;
  std::string name_;
};

}  // namespace arsync::linkem
