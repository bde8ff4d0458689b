#include "arsync/cli/transfer_plan.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "arsync/engine/report.h"

namespace arsync::cli {
namespace {

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (" + std::to_string(err) + ")";
}

bool is_dir_path(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A single non-directory source copied to a destination that is not a directory takes the
// destination's name, as with cp.
bool single_file_rename(const std::vector<std::string>& sources, const std::string& dest) {
  if (sources.size() != 1 || !may_name_a_file(dest)) return false;
  const std::string& src = sources.front();
  if (src.empty() || src.back() == '/') return false;
  struct stat st;
  return ::lstat(src.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

void make_dirs(const std::string& path) {
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    ::mkdir(path.substr(0, pos).c_str(), 0777);
  }
}

std::string parent_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

void open_root(TransferPlan& plan, const std::string& root, bool renaming, bool dry_run,
               bool mkpath);

}  // namespace

bool may_name_a_file(const std::string& dest) {
  if (dest.empty() || dest.back() == '/') return false;
  const std::string leaf = leaf_of(dest);
  return leaf != "." && leaf != ".." && !is_dir_path(dest);
}

std::string leaf_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

TransferPlan plan_renamed_file(const std::string& dest, bool dry_run) {
  TransferPlan plan;
  open_root(plan, parent_of(dest), true, dry_run, false);
  return plan;
}

TransferPlan plan_transfer(const std::vector<std::string>& sources, const std::string& dest,
                           bool dry_run, bool mkpath) {
  TransferPlan plan;
  std::string root = dest;
  if (single_file_rename(sources, dest)) {
    root = parent_of(dest);
    plan.sources.push_back({sources.front(), leaf_of(dest)});
  } else {
    for (const auto& src : sources) plan.sources.push_back({src, {}});
  }
  bool renaming = !plan.sources.empty() && !plan.sources.front().rename_top.empty();
  open_root(plan, root, renaming, dry_run, mkpath);
  return plan;
}

namespace {

void open_root(TransferPlan& plan, const std::string& root, bool renaming, bool dry_run,
               bool mkpath) {
  plan.dest_display = root;
  while (plan.dest_display.size() > 1 && plan.dest_display.back() == '/')
    plan.dest_display.pop_back();

  struct stat st;
  if (::stat(root.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      throw PlanError{engine::kExitFileIo,
                      "arsync: destination \"" + root + "\" is not a directory"};
    }
  } else if (errno == ENOENT && renaming) {
    // The new name's directory must exist, as rsync requires.
    throw PlanError{engine::kExitFileSelect,
                    "arsync: change_dir \"" + root + "\" failed: " + errno_text(errno)};
  } else if (errno != ENOENT) {
    throw PlanError{engine::kExitFileIo,
                    "arsync: cannot stat destination \"" + root + "\": " + errno_text(errno)};
  } else if (dry_run) {
    plan.dest_created = true;
    return;
  } else {
    if (mkpath) make_dirs(root);
    if (::mkdir(root.c_str(), 0777) != 0 && errno != EEXIST) {
      throw PlanError{engine::kExitFileIo,
                      "arsync: mkdir \"" + root + "\" failed: " + errno_text(errno)};
    }
    plan.dest_created = true;
  }
  plan.dest_fd.reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!plan.dest_fd) {
    throw PlanError{engine::kExitFileIo,
                    "arsync: cannot open destination \"" + root + "\": " + errno_text(errno)};
  }
}

}  // namespace
}  // namespace arsync::cli
