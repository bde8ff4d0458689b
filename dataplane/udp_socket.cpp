#include "dataplane/udp_socket.h"

#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "dataplane/quic_error.h"
#include "dataplane/quic_options.h"

namespace arsync::dataplane {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// Root may exceed net.core.{w,r}mem_max with the *FORCE variants; others get what the
// sysctl allows. A small buffer costs throughput, not correctness, so failures are ignored.
void set_buffer_size(int fd, int forced, int plain, int size) {
  if (setsockopt(fd, SOL_SOCKET, forced, &size, sizeof(size)) == 0) return;
  (void)setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size));
}

}  // namespace

UdpSocket UdpSocket::open(int family, const QuicOptions& options) {
  if (family != AF_INET && family != AF_INET6) throw QuicError("not an IPv4 or IPv6 address");
  int fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) throw QuicError("cannot open a UDP socket: " + errno_text());
  UdpSocket socket;
  socket.fd_.reset(fd);
  set_buffer_size(fd, SO_SNDBUFFORCE, SO_SNDBUF, options.socket_buffer);
  set_buffer_size(fd, SO_RCVBUFFORCE, SO_RCVBUF, options.socket_buffer);
  // QUIC must never be fragmented: it finds the path MTU itself with probes, which need DF.
  if (family == AF_INET) {
    int value = IP_PMTUDISC_DO;
    (void)setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &value, sizeof(value));
  } else {
    int value = IPV6_PMTUDISC_DO;
    (void)setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &value, sizeof(value));
  }
  if (options.use_gro) {
    int one = 1;
    socket.gro_ = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
  }
  // GSO needs no setup; a device that cannot segment answers EIO, and we then send packet
  // by packet.
  socket.gso_ = options.use_gso;
  return socket;
}

UdpSocket UdpSocket::bind(const SocketAddress& address, PortRange ports,
                          const QuicOptions& options) {
  UdpSocket socket = open(address.family(), options);
  SocketAddress at = address;
  for (uint32_t port = ports.first; port <= ports.last; ++port) {
    at.set_port(static_cast<uint16_t>(port));
    if (::bind(socket.fd(), at.get(), at.size()) == 0) {
      socket.update_local_address();
      return socket;
    }
    if (errno != EADDRINUSE)
      throw QuicError("cannot bind UDP " + at.to_string() + ": " + errno_text());
  }
  throw QuicError("no free UDP port in " + std::to_string(ports.first) + "-" +
                  std::to_string(ports.last) + " on " + address.to_string());
}

UdpSocket UdpSocket::connect_to(const SocketAddress& peer, const QuicOptions& options) {
  UdpSocket socket = open(peer.family(), options);
  socket.connect(peer);
  return socket;
}

void UdpSocket::connect(const SocketAddress& peer) {
  if (::connect(fd(), peer.get(), peer.size()) != 0)
    throw QuicError("cannot connect a UDP socket to " + peer.to_string() + ": " + errno_text());
  connected_ = true;
  update_local_address();
}

void UdpSocket::update_local_address() {
  socklen_t size = SocketAddress::capacity();
  if (getsockname(fd(), local_.get(), &size) != 0)
    throw QuicError("getsockname on a UDP socket: " + errno_text());
  local_.set_size(size);
}

size_t UdpSocket::send(std::span<const uint8_t> data, size_t segment_size,
                       const SocketAddress* to) {
  if (data.empty()) return 0;
  if (data.size() > segment_size && !gso_) return send_one_by_one(data, segment_size, to);
  msghdr msg{};
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (to != nullptr && !connected_) {
    msg.msg_name = const_cast<sockaddr*>(to->get());
    msg.msg_namelen = to->size();
  }
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint16_t))] = {};
  if (data.size() > segment_size) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&msg);
    header->cmsg_level = SOL_UDP;
    header->cmsg_type = UDP_SEGMENT;
    header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t segment = static_cast<uint16_t>(segment_size);
    std::memcpy(CMSG_DATA(header), &segment, sizeof(segment));
  }
  for (;;) {
    if (::sendmsg(fd(), &msg, 0) >= 0) return data.size();
    switch (errno) {
      case EINTR:
        continue;
      case EAGAIN:
        return 0;
      case EIO:
      case EINVAL:
        if (data.size() > segment_size) {
          // The device cannot segment: from now on one datagram per call.
          gso_ = false;
          return send_one_by_one(data, segment_size, to);
        }
        return data.size();
      case ECONNREFUSED:
        refused_ = true;
        return data.size();
      default:
        return data.size();
    }
  }
}

size_t UdpSocket::send_one_by_one(std::span<const uint8_t> data, size_t segment_size,
                                  const SocketAddress* to) {
  size_t sent = 0;
  while (sent < data.size()) {
    size_t n = std::min(segment_size, data.size() - sent);
    if (send(data.subspan(sent, n), n, to) == 0) break;
    sent += n;
  }
  return sent;
}

std::optional<ReceivedDatagrams> UdpSocket::receive(ReceiveBuffer& buffer) {
  for (;;) {
    ReceivedDatagrams received;
    iovec iov{buffer.data(), ReceiveBuffer::kSize};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int)) * 2];
    msghdr msg{};
    msg.msg_name = received.from.get();
    msg.msg_namelen = SocketAddress::capacity();
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd(), &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) {
        refused_ = true;
        continue;
      }
      return std::nullopt;
    }
    if (n == 0) continue;
    received.from.set_size(msg.msg_namelen);
    received.data = std::span<const uint8_t>(buffer.data(), static_cast<size_t>(n));
    received.segment_size = static_cast<size_t>(n);
    for (cmsghdr* header = CMSG_FIRSTHDR(&msg); header != nullptr;
         header = CMSG_NXTHDR(&msg, header)) {
      if (header->cmsg_level == SOL_UDP && header->cmsg_type == UDP_GRO) {
        int segment = 0;
        std::memcpy(&segment, CMSG_DATA(header), sizeof(segment));
        if (segment > 0) received.segment_size = static_cast<size_t>(segment);
      }
    }
    return received;
  }
}

}  // namespace arsync::dataplane
