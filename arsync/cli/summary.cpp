#include "arsync/cli/summary.h"

#include <string>

namespace arsync::cli {

std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

namespace {

std::string breakdown(uint64_t reg, uint64_t dir, uint64_t link, uint64_t dev, uint64_t special) {
  std::string parts;
  auto add = [&](const char* name, uint64_t n) {
    if (n == 0) return;
    if (!parts.empty()) parts += ", ";
    parts += std::string(name) + ": " + grouped(n);
  };
  add("reg", reg);
  add("dir", dir);
  add("link", link);
  add("dev", dev);
  add("special", special);
  return parts.empty() ? std::string() : " (" + parts + ")";
}

}  // namespace

void print_summary(FILE* out, const engine::Report& report, double elapsed, bool dry_run) {
  const engine::OutputOptions& o = report.output();
  auto& s = const_cast<engine::Report&>(report).stats();
  uint64_t sent = s.bytes_sent + s.file_list_size;
  uint64_t received = s.bytes_received;
  if (o.stats && !o.quiet) {
    std::fprintf(out, "\nNumber of files: %s%s\n", grouped(s.files).c_str(),
                 breakdown(s.regular_files, s.dirs, s.symlinks, s.devices, s.specials).c_str());
    std::fprintf(out, "Number of created files: %s%s\n", grouped(s.created_files).c_str(),
                 breakdown(s.created_regular, s.created_dirs, s.created_symlinks, s.created_devices,
                           s.created_specials)
                     .c_str());
    std::fprintf(out, "Number of deleted files: %s%s\n", grouped(s.deleted_files).c_str(),
                 breakdown(s.deleted_regular, s.deleted_dirs, s.deleted_symlinks, s.deleted_devices,
                           s.deleted_specials)
                     .c_str());
    std::fprintf(out, "Number of regular files transferred: %s\n",
                 grouped(s.regular_transferred).c_str());
    std::fprintf(out, "Total file size: %s bytes\n", grouped(s.total_size).c_str());
    std::fprintf(out, "Total transferred file size: %s bytes\n",
                 grouped(s.transferred_size).c_str());
    std::fprintf(out, "Literal data: %s bytes\n",
                 grouped(dry_run ? 0 : s.literal_data.load()).c_str());
    std::fprintf(out, "Matched data: %s bytes\n", grouped(s.matched_data).c_str());
    std::fprintf(out, "File list size: %s\n", grouped(s.file_list_size).c_str());
    std::fprintf(out, "Total bytes sent: %s\n", grouped(sent).c_str());
    std::fprintf(out, "Total bytes received: %s\n", grouped(received).c_str());
  }
  if ((o.verbose > 0 || o.stats) && !o.quiet) {
    double rate = elapsed > 0 ? static_cast<double>(sent + received) / elapsed : 0;
    double speedup = sent + received > 0
                         ? static_cast<double>(s.total_size) / static_cast<double>(sent + received)
                         : 0;
    std::fprintf(out, "\nsent %s bytes  received %s bytes  %.2f bytes/sec\n", grouped(sent).c_str(),
                 grouped(received).c_str(), rate);
    std::fprintf(out, "total size is %s  speedup is %.2f%s\n", grouped(s.total_size).c_str(),
                 speedup, dry_run ? " (DRY RUN)" : "");
  }
}

}  // namespace arsync::cli
