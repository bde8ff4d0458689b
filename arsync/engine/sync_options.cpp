#include "arsync/engine/sync_options.h"

#include "fsio/relative_path.h"

namespace arsync::engine {

std::string check_partial_dir(std::string_view dir, bool allow_absolute) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  if (dir.empty()) return "--partial-dir needs a directory name";
  if (dir.size() > fsio::kMaxPathLength || dir.find('\0') != std::string_view::npos)
    return "--partial-dir: name too long or holds a NUL byte";
  if (dir.front() == '/') {
    if (!allow_absolute) return "--partial-dir must be relative for a remote destination";
    if (dir.size() == 1) return "--partial-dir cannot be /";
    return {};
  }
  if (!fsio::is_safe_relative_path(dir))
    return "--partial-dir must not contain empty, \".\" or \"..\" components";
  return {};
}

}  // namespace arsync::engine
