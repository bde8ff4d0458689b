#include "bench/linkem/tun_device.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace arsync::linkem {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

}  // namespace

TunDevice::TunDevice(const std::string& name, int mtu) : name_(name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    throw std::runtime_error("TUN device name '" + name + "' must have 1 to " +
                             std::to_string(IFNAMSIZ - 1) + " characters");
  }
  fd_.reset(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd_) fail("open /dev/net/tun");
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  if (::ioctl(fd_.get(), TUNSETIFF, &request) != 0) fail("TUNSETIFF " + name);

  // The MTU is set through any socket of the namespace the device is in (this one).
  const fsio::UniqueFd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!socket) fail("socket");
  ifreq mtu_request{};
  std::memcpy(mtu_request.ifr_name, name.data(), name.size());
  mtu_request.ifr_mtu = mtu;
  if (::ioctl(socket.get(), SIOCSIFMTU, &mtu_request) != 0) {
    fail("set MTU " + std::to_string(mtu) + " on " + name);
  }
}

}  // namespace arsync::linkem
