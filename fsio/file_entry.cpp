#include "fsio/file_entry.h"

namespace arsync::fsio {

FileType file_type_from_mode(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return FileType::directory;
    case S_IFLNK:
      return FileType::symlink;
    case S_IFIFO:
      return FileType::fifo;
    case S_IFSOCK:
      return FileType::socket;
    case S_IFCHR:
      return FileType::char_device;
    case S_IFBLK:
      return FileType::block_device;
    default:
      return FileType::regular;
  }
}

mode_t mode_type_bits(FileType type) {
  switch (type) {
    case FileType::directory:
      return S_IFDIR;
    case FileType::symlink:
      return S_IFLNK;
    case FileType::fifo:
      return S_IFIFO;
    case FileType::socket:
      return S_IFSOCK;
    case FileType::char_device:
      return S_IFCHR;
    case FileType::block_device:
      return S_IFBLK;
    case FileType::regular:
      break;
  }
  return S_IFREG;
}

}  // namespace arsync::fsio
