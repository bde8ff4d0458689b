// rsync's file-list order, where the choice of a hardlink group's data holder depends on it.
#pragma once

#include <string_view>

namespace arsync::engine {

// Depth first, and in each directory its files before its subdirectories.
inline bool rsync_list_order(std::string_view a, std::string_view b) {
  for (;;) {
    size_t sa = a.find('/'), sb = b.find('/');
    std::string_view ca = a.substr(0, sa), cb = b.substr(0, sb);
    bool a_file = sa == std::string_view::npos, b_file = sb == std::string_view::npos;
    if (ca != cb || a_file || b_file) {
      if (a_file != b_file) return a_file;
      return ca < cb;
    }
    a.remove_prefix(sa + 1);
    b.remove_prefix(sb + 1);
  }
}

}  // namespace arsync::engine
