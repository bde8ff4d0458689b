#include "arsync/engine/decide.h"

#include "fsio/metadata.h"

namespace arsync::engine {

using fsio::FileEntry;
using fsio::FileType;

char itemize_type(FileType type) {
  switch (type) {
    case FileType::regular:
      return 'f';
    case FileType::directory:
      return 'd';
    case FileType::symlink:
      return 'L';
    case FileType::char_device:
    case FileType::block_device:
      return 'D';
    case FileType::fifo:
    case FileType::socket:
      return 'S';
  }
  return 'f';
}

namespace {

// Positions in rsync's YXcstpoguax string.
enum Slot { kY = 0, kX = 1, kC = 2, kS = 3, kT = 4, kP = 5, kO = 6, kG = 7 };

uint32_t new_mode(const FileEntry& src, const SyncOptions& options) {
  // Without -p a new entry takes the source's permissions through the umask, without the
  // set-id and sticky bits, as rsync does.
  if (options.perms) return src.mode;
  return src.mode & 0777 & ~static_cast<uint32_t>(fsio::process_umask());
}

Decision decide_new(const FileEntry& src, bool replace, const SyncOptions& options) {
  Decision d;
  d.created = true;
  d.replace = replace;
  d.report = true;
  d.final_mode = new_mode(src, options);
  d.code.fill('+');
  d.code[kX] = itemize_type(src.type);
  switch (src.type) {
    case FileType::regular:
      d.code[kY] = '>';
      d.action = Action::transfer;
      break;
    case FileType::directory:
      d.code[kY] = 'c';
      d.action = Action::make_dir;
      break;
    case FileType::symlink:
      d.code[kY] = 'c';
      d.action = Action::make_link;
      break;
    default:
      d.code[kY] = 'c';
      d.action = Action::make_node;
      break;
  }
  return d;
}

}  // namespace

Decision decide(const FileEntry& src, const DestState& dst, const SyncOptions& options,
                bool is_root) {
  bool same_type = dst.exists && fsio::file_type_from_mode(dst.st.st_mode) == src.type;
  if (!same_type) return decide_new(src, dst.exists, options);

  Decision d;
  d.code.fill('.');
  d.code[kX] = itemize_type(src.type);
  d.final_mode = options.perms ? src.mode : (dst.st.st_mode & 07777);

  // rsync's quick check compares whole seconds (its default --modify-window=0 on these
  // protocol versions ignores the nanoseconds); a transferred file still gets the exact
  // nanosecond mtime.
  bool times_differ = fsio::mtime_of(dst.st).sec != src.mtime.sec;
  bool attrs_differ = false;
  if (options.times && times_differ && !src.is_dir()) {
    d.code[kT] = 't';
    attrs_differ = true;
  }
  if (options.times && times_differ && src.is_dir()) d.code[kT] = 't';
  if (options.perms && !src.is_symlink() && (dst.st.st_mode & 07777) != src.mode) {
    d.code[kP] = 'p';
    attrs_differ = true;
  }
  if (options.owner && is_root && dst.st.st_uid != src.uid) {
    d.code[kO] = 'o';
    attrs_differ = true;
  }
  if (options.group && dst.st.st_gid != src.gid) {
    d.code[kG] = 'g';
    attrs_differ = true;
  }

  switch (src.type) {
    case FileType::regular: {
      bool size_differs = static_cast<uint64_t>(dst.st.st_size) != src.size;
      bool transfer;
      if (options.checksum) {
        transfer = size_differs || !dst.has_digest || !src.has_digest || dst.digest != src.digest;
        if (transfer) d.code[kC] = 'c';
      } else {
        transfer = size_differs || times_differ;
      }
      if (size_differs) d.code[kS] = 's';
      if (transfer) {
        d.action = Action::transfer;
        d.code[kY] = '>';
        // Without -t the new file gets the transfer time: rsync's 'T'.
        if (!options.times) d.code[kT] = 'T';
      } else if (attrs_differ) {
        d.action = Action::attrs;
      }
      d.report = transfer || attrs_differ;
      break;
    }
    case FileType::directory:
      d.action = Action::dir;
      d.report = d.code[kT] == 't' || d.code[kP] == 'p' || d.code[kO] == 'o' || d.code[kG] == 'g';
      break;
    case FileType::symlink:
      if (dst.link_target != src.link_target) {
        d.action = Action::make_link;
        d.code[kY] = 'c';
        d.code[kC] = 'c';
        if (!options.times) d.code[kT] = 'T';
        d.report = true;
      } else if (attrs_differ) {
        d.action = Action::attrs;
        d.report = true;
      }
      break;
    default:
      if (static_cast<uint64_t>(dst.st.st_rdev) != src.rdev && src.is_device()) {
        d.action = Action::make_node;
        d.code[kY] = 'c';
        d.code[kC] = 'c';
        d.report = true;
      } else if (attrs_differ) {
        d.action = Action::attrs;
        d.report = true;
      }
      break;
  }
  return d;
}

}  // namespace arsync::engine
