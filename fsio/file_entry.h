// One entry of a file list: what the sender says about a path, and all the receiver needs
// to recreate it. Kept small: a million-entry tree must fit comfortably.
#pragma once

#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <string>

namespace arsync::fsio {

enum class FileType : uint8_t {
  regular,
  directory,
  symlink,
  fifo,
  socket,
  char_device,
  block_device,
};

FileType file_type_from_mode(mode_t mode);
mode_t mode_type_bits(FileType type);

struct Timestamp {
  int64_t sec = 0;
  uint32_t nsec = 0;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

using Digest128 = std::array<uint8_t, 16>;

struct FileEntry {
  static constexpr uint32_t kNoLink = UINT32_MAX;

  // Path relative to the transfer root, '/'-separated, never absolute, never "..".
  std::string path;
  // Symlink target, exactly as readlink returned it (never followed).
  std::string link_target;
  uint64_t size = 0;
  uint64_t rdev = 0;
  // The sender's handle for this entry's content (regular files): what the receiver names in
  // a request. Never a path, so a request cannot reach anything the sender did not list.
  uint64_t id = 0;
  Timestamp mtime;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  // With -H: entries sharing a hardlink_group are one inode on the sender; the receiver
  // gives the content to one of them and links the others to it.
  uint32_t hardlink_group = kNoLink;
  FileType type = FileType::regular;
  bool maybe_sparse = false;  // fewer blocks allocated than the size needs: look for holes
  bool has_digest = false;    // digest is set (only with --checksum, regular files)
  // With --checksum, a large regular file: its digest is not in the list but follows on the
  // content stream (engine::ContentDigest), so that both sides hash it at the same time.
  bool digest_follows = false;
  Digest128 digest{};

  bool is_dir() const { return type == FileType::directory; }
  bool is_regular() const { return type == FileType::regular; }
  bool is_symlink() const { return type == FileType::symlink; }
  bool is_device() const { return type == FileType::char_device || type == FileType::block_device; }
  bool is_special() const { return type == FileType::fifo || type == FileType::socket; }
};

}  // namespace arsync::fsio
