#include "fsio/temp_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <random>
#include <utility>

#include "fsio/relative_path.h"

namespace arsync::fsio {
namespace {
std::atomic<int> g_live_temps{0};
}  // namespace

int live_temp_files() {
  return g_live_temps.load();
}

std::string temp_name_for(std::string_view final_name) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{
      std::random_device{}() ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  constexpr size_t kSuffix = 6;
  size_t keep = std::min(final_name.size(), kMaxNameLength - 2 - kSuffix);
  std::string name;
  name.reserve(keep + 2 + kSuffix);
  name.push_back('.');
  name.append(final_name.substr(0, keep));
  name.push_back('.');
  uint64_t bits = rng();
  for (size_t i = 0; i < kSuffix; ++i, bits /= 62) name.push_back(kAlphabet[bits % 62]);
  return name;
}

TempFile TempFile::create(int dir_fd, std::string_view final_name, unsigned mode) {
  TempFile temp;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = temp_name_for(final_name);
    int fd =
        ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd >= 0) {
      temp.dir_fd_ = dir_fd;
      temp.fd_.reset(fd);
      temp.temp_name_ = std::move(name);
      temp.final_name_ = std::string(final_name);
      temp.pending_ = true;
      g_live_temps++;
      return temp;
    }
    if (errno != EEXIST) break;
  }
  return temp;
}

TempFile TempFile::open_in_place(int dir_fd, std::string_view name, unsigned mode) {
  TempFile file;
  std::string leaf(name);
  // O_NONBLOCK: a fifo that took the file's place must not hang the open.
  UniqueFd fd(
      ::openat(dir_fd, leaf.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode));
  if (!fd) return file;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return file;
  if (!S_ISREG(st.st_mode)) {
    errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    return file;
  }
  int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  file.dir_fd_ = dir_fd;
  file.fd_ = std::move(fd);
  file.temp_name_ = leaf;
  file.final_name_ = std::move(leaf);
  file.in_place_ = true;
  return file;
}

TempFile::TempFile(TempFile&& other) noexcept
    : dir_fd_(other.dir_fd_),
      fd_(std::move(other.fd_)),
      temp_name_(std::move(other.temp_name_)),
      final_name_(std::move(other.final_name_)),
      pending_(std::exchange(other.pending_, false)),
      in_place_(std::exchange(other.in_place_, false)) {}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    discard();
    dir_fd_ = other.dir_fd_;
    fd_ = std::move(other.fd_);
    temp_name_ = std::move(other.temp_name_);
    final_name_ = std::move(other.final_name_);
    pending_ = std::exchange(other.pending_, false);
    in_place_ = std::exchange(other.in_place_, false);
  }
  return *this;
}

TempFile::~TempFile() {
  discard();
}

int TempFile::commit() {
  if (in_place_ && fd_.valid()) {
    fd_.reset();
    return 0;
  }
  if (!pending_) return EINVAL;
  if (::renameat(dir_fd_, temp_name_.c_str(), dir_fd_, final_name_.c_str()) != 0) return errno;
  pending_ = false;
  g_live_temps--;
  fd_.reset();
  return 0;
}

int TempFile::commit_to(int other_dir_fd, std::string_view name) {
  if (!pending_) return EINVAL;
  std::string target(name);
  if (::renameat(dir_fd_, temp_name_.c_str(), other_dir_fd, target.c_str()) != 0) return errno;
  pending_ = false;
  g_live_temps--;
  fd_.reset();
  return 0;
}

void TempFile::discard() {
  if (pending_) {
    ::unlinkat(dir_fd_, temp_name_.c_str(), 0);
    pending_ = false;
    g_live_temps--;
  }
  fd_.reset();
}

}  // namespace arsync::fsio
