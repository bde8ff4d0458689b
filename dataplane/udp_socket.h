// The UDP socket under a QUIC connection, with the batching that makes QUIC fast on Linux:
// one sendmsg carries many equal-sized packets (GSO, UDP_SEGMENT) and one recvmsg returns
// many coalesced ones (GRO, UDP_GRO). Per-packet system calls, not crypto, are what limit
// QUIC throughput here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "dataplane/socket_address.h"
#include "fsio/unique_fd.h"

namespace arsync::dataplane {

struct QuicOptions;

// Where recvmsg puts a datagram or a GRO batch (up to 64 KiB) and its control messages.
class ReceiveBuffer {
 public:
  ReceiveBuffer() : data_(kSize) {}
  static constexpr size_t kSize = 65536;
  uint8_t* data() { return data_.data(); }

 private:
  std::vector<uint8_t> data_;
};

// What one receive returned: `data` holds datagrams of `segment_size` bytes back to back (the
// last may be shorter), all from `from`.
struct ReceivedDatagrams {
  std::span<const uint8_t> data;
  size_t segment_size = 0;
  SocketAddress from;
};

class UdpSocket {
 public:
  // The most packets one GSO send may carry (the kernel's UDP_MAX_SEGMENTS on older kernels).
  static constexpr size_t kMaxSegments = 64;
  // A GSO send is one IP packet to the kernel: its payload must stay below 64 KiB.
  static constexpr size_t kMaxBatchBytes = 65000;

  UdpSocket() = default;

  // Bound to `address` (its port ignored) on the first free port of `ports`; {0, 0} takes an
  // ephemeral one. Throws QuicError.
  static UdpSocket bind(const SocketAddress& address, PortRange ports, const QuicOptions& options);
  // An ephemeral socket of `peer`'s family, connected to it, so that the kernel drops
  // datagrams from anyone else and reports an ICMP "port unreachable" as ECONNREFUSED.
  static UdpSocket connect_to(const SocketAddress& peer, const QuicOptions& options);

  // From now on only `peer` is heard (and sent to). Throws QuicError.
  void connect(const SocketAddress& peer);

  explicit operator bool() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  const SocketAddress& local_address() const { return local_; }
  bool connected() const { return connected_; }

  // Sends `data` as datagrams of `segment_size` bytes (the last may be shorter) to `to`, or to
  // the connected peer when `to` is null. Returns the bytes the kernel took: fewer than
  // data.size() means the socket buffer is full (wait for POLLOUT and send the rest).
  // Datagrams the network refuses (too big for the path, unreachable) count as sent: to QUIC
  // they are lost packets, which it recovers from.
  size_t send(std::span<const uint8_t> data, size_t segment_size, const SocketAddress* to);

  // One datagram or GRO batch, or nullopt when nothing is waiting.
  std::optional<ReceivedDatagrams> receive(ReceiveBuffer& buffer);

  // Whether the kernel reported an ICMP "port unreachable" since the last call.
  bool take_refused() { return std::exchange(refused_, false); }
  bool gso_enabled() const { return gso_; }
  bool gro_enabled() const { return gro_; }

 private:
  static UdpSocket open(int family, const QuicOptions& options);
  void update_local_address();
  size_t send_one_by_one(std::span<const uint8_t> data, size_t segment_size,
                         const SocketAddress* to);

  fsio::UniqueFd fd_;
  SocketAddress local_;
  bool connected_ = false;
  bool gso_ = false;
  bool gro_ = false;
  bool refused_ = false;
};

}  // namespace arsync::dataplane
