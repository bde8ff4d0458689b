#include "arsync/engine/report.h"

#include <cstring>
#include <cwchar>
#include <cwctype>

namespace arsync::engine {

std::string escape_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  std::mbstate_t state{};
  size_t i = 0;
  while (i < name.size()) {
    wchar_t wc;
    size_t len = std::mbrtowc(&wc, name.data() + i, name.size() - i, &state);
    if (len == 0) len = 1;
    if (len > name.size() - i || (!std::iswprint(static_cast<wint_t>(wc)) && wc != L'\t')) {
      // Not a printable character in this locale: escape one byte as rsync does.
      state = std::mbstate_t{};
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\#%03o", static_cast<unsigned char>(name[i]));
      out += buf;
      ++i;
      continue;
    }
    out.append(name.substr(i, len));
    i += len;
  }
  return out;
}

Report::Report(const OutputOptions& output, FILE* out, FILE* err)
    : output_(output), out_(out), err_(err) {}

void Report::write_line(FILE* stream, std::string_view line) {
  std::lock_guard lock(mutex_);
  if (sink_) {
    sink_(line, stream == err_);
    return;
  }
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fputc('\n', stream);
  if (stream == err_) std::fflush(stream);
}

void Report::write_file_problem(std::string_view path, std::string_view line, bool retry) {
  {
    std::lock_guard lock(mutex_);
    if (file_sink_) {
      file_sink_(path, line, retry);
      return;
    }
  }
  write_line(err_, line);
}

void Report::raise(int code) {
  int current = exit_code_.load();
  // A partial transfer outranks a vanished file, as in rsync; anything else keeps the first.
  while (true) {
    bool replace = current == kExitOk || (current == kExitVanished && code == kExitPartial);
    if (!replace || exit_code_.compare_exchange_weak(current, code)) return;
  }
}

void Report::item(std::string_view code, std::string_view name, std::string_view suffix) {
  if (output_.quiet) return;
  std::string line;
  if (output_.itemize > 0) {
    line.append(code);
    line.push_back(' ');
  } else if (output_.verbose == 0) {
    return;
  }
  line += escape_name(name);
  line += escape_name(suffix);
  write_line(out_, line);
}

void Report::deleted(std::string_view name, fsio::FileType type) {
  stats_.deleted_files++;
  bool is_dir = type == fsio::FileType::directory;
  switch (type) {
    case fsio::FileType::regular:
      stats_.deleted_regular++;
      break;
    case fsio::FileType::directory:
      stats_.deleted_dirs++;
      break;
    case fsio::FileType::symlink:
      stats_.deleted_symlinks++;
      break;
    case fsio::FileType::char_device:
    case fsio::FileType::block_device:
      stats_.deleted_devices++;
      break;
    default:
      stats_.deleted_specials++;
      break;
  }
  if (output_.quiet || (output_.itemize == 0 && output_.verbose == 0)) return;
  std::string line = output_.itemize > 0 ? "*deleting   " : "deleting ";
  line += escape_name(name);
  if (is_dir) line.push_back('/');
  write_line(out_, line);
}

void Report::error(std::string_view path, int err, std::string_view what) {
  std::string line = "arsync: ";
  line.append(what);
  line += " \"";
  line += escape_name(path);
  line += "\" failed: ";
  line += std::strerror(err);
  line += " (" + std::to_string(err) + ")";
  write_file_problem(path, line, false);
  raise(kExitPartial);
}

void Report::error_message(std::string_view path, std::string_view message) {
  write_file_problem(path, message, false);
  raise(kExitPartial);
}

void Report::error_message(std::string_view message) {
  write_line(err_, message);
  raise(kExitPartial);
}

void Report::vanished(std::string_view path) {
  std::string line = "file has vanished: \"";
  line += escape_name(path);
  line += "\"";
  write_file_problem(path, line, false);
  raise(kExitVanished);
}

void Report::retrying(std::string_view path, bool retained) {
  write_file_problem(path,
                     "WARNING: \"" + escape_name(path) + "\" failed verification -- update " +
                         (retained ? "retained" : "discarded") + " (will try again).",
                     true);
}

void Report::skipped(std::string_view path, fsio::SkipReason why) {
  if (output_.quiet) return;
  std::string line;
  if (why == fsio::SkipReason::directory) {
    line = "skipping directory " + escape_name(path);
  } else {
    line = "skipping non-regular file \"" + escape_name(path) + "\"";
  }
  write_line(out_, line);
}

void Report::info(std::string_view line) {
  if (!output_.quiet) write_line(out_, line);
}

}  // namespace arsync::engine
