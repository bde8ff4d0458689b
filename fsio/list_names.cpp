#include "fsio/list_names.h"

#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>

namespace arsync::fsio {

int list_names(int dir_fd, std::vector<std::string>& names) {
  // readdir consumes its descriptor: give it a duplicate.
  int fd = ::dup(dir_fd);
  if (fd < 0) return errno;
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    return err;
  }
  ::rewinddir(dir);
  errno = 0;
  while (dirent* ent = ::readdir(dir)) {
    std::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  return err;
}

}  // namespace arsync::fsio
