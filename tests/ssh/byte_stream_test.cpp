// FdStream: the ByteStream the helper speaks over its stdin and stdout, and tests over pipes.
#include "control/byte_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>

namespace arsync::control {
namespace {

std::string read_to_end(ByteStream& stream) {
  std::string out;
  char buf[4096];
  while (size_t got = stream.read_some(buf, sizeof buf)) out.append(buf, got);
  return out;
}

TEST(FdStreamTest, PipesCarryBytesAndCloseWriteIsEndOfStream) {
  int to_peer[2], from_peer[2];
  ASSERT_EQ(::pipe2(to_peer, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(from_peer, O_CLOEXEC), 0);
  FdStream ours(from_peer[0], to_peer[1], true);
  FdStream theirs(to_peer[0], from_peer[1], true);
  const std::string big(1 << 20, 'x');  // more than a pipe holds: the writer must wait
  std::thread writer([&] {
    ours.write_all(big.data(), big.size());
    ours.close_write();
  });
  EXPECT_EQ(read_to_end(theirs), big);
  writer.join();
  EXPECT_THROW(ours.write_all("x", 1), std::logic_error);
}

TEST(FdStreamTest, NonBlockingSocketWaitsInsteadOfFailing) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  FdStream a(fds[0], fds[0], true);
  FdStream b(fds[1], fds[1], true);
  const std::string big(4 << 20, 'y');  // far more than the socket buffers
  std::thread writer([&] {
    a.write_all(big.data(), big.size());
    a.close_write();  // shutdown(SHUT_WR): b sees the end, a can still read
  });
  EXPECT_EQ(read_to_end(b), big);
  writer.join();
  b.write_all("back", 4);
  b.close_write();
  EXPECT_EQ(read_to_end(a), "back");
}

TEST(FdStreamTest, WritingToAVanishedSocketPeerThrowsInsteadOfSigpipe) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ::close(fds[1]);
  FdStream a(fds[0], fds[0], true);
  EXPECT_THROW(a.write_all("x", 1), std::runtime_error);
}

}  // namespace
}  // namespace arsync::control
