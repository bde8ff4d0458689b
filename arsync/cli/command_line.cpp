#include "arsync/cli/command_line.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <string_view>

#include "control/quic_messages.h"
#include "dataplane/rate_limit.h"

namespace arsync::cli {
namespace {

using fsio::FilterRules;

struct FilterOption {
  std::string_view name;
  FilterRules::Kind kind;
  bool from_file;
};

constexpr FilterOption kFilterOptions[] = {
    {"--exclude", FilterRules::Kind::exclude, false},
    {"--include", FilterRules::Kind::include, false},
    {"--exclude-from", FilterRules::Kind::exclude, true},
    {"--include-from", FilterRules::Kind::include, true},
};

// CLI11 groups values per option and would lose the order between --include and --exclude,
// so filter options are taken out of argv first, in order.
std::vector<std::string> take_filter_options(int argc, char** argv, FilterRules& rules) {
  std::vector<std::string> rest;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (options_done || arg == "--") {
      options_done = true;
      rest.emplace_back(arg);
      continue;
    }
    const FilterOption* match = nullptr;
    std::string value;
    for (const auto& option : kFilterOptions) {
      if (arg == option.name) {
        if (i + 1 >= argc) throw UsageError(std::string(option.name) + " needs an argument");
        match = &option;
        value = argv[++i];
        break;
      }
      if (arg.starts_with(option.name) && arg.size() > option.name.size() &&
          arg[option.name.size()] == '=') {
        match = &option;
        value = std::string(arg.substr(option.name.size() + 1));
        break;
      }
    }
    if (!match) {
      rest.emplace_back(arg);
      continue;
    }
    if (match->from_file) {
      try {
        rules.add_from_file(match->kind, value);
      } catch (const std::runtime_error& e) {
        throw UsageError(e.what());
      }
    } else {
      rules.add(match->kind, value);
    }
  }
  return rest;
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cmd;
  std::vector<std::string> args = take_filter_options(argc, argv, cmd.sync.filters);

  CLI::App app{"arsync: fast, parallel file synchronisation with rsync's semantics", "arsync"};
  app.set_help_flag();  // handled below so that -h is not taken
  bool archive = false, no_d = false, devices_specials = false;
  bool help = false, version = false;
  auto& s = cmd.sync;
  auto& o = cmd.output;
  app.add_flag("--help", help, "show this help");
  app.add_flag("-V,--version", version, "print the version");
  app.add_flag("-a,--archive", archive, "archive mode: -rlptgoD");
  app.add_flag("-r,--recursive", s.recursive, "recurse into directories");
  app.add_flag("-l,--links", s.links, "copy symlinks as symlinks");
  app.add_flag("-p,--perms", s.perms, "preserve permissions");
  app.add_flag("-t,--times", s.times, "preserve modification times");
  app.add_flag("-g,--group", s.group, "preserve group");
  app.add_flag("-o,--owner", s.owner, "preserve owner (super-user only)");
  app.add_flag("-D", devices_specials, "same as --devices --specials");
  app.add_flag("--devices", s.devices, "preserve device files (super-user only)");
  app.add_flag("--specials", s.specials, "preserve special files");
  app.add_flag("-H,--hard-links", s.hard_links, "preserve hard links");
  app.add_flag("--delete", s.del, "delete extraneous files from destination dirs");
  app.add_flag("--delete-excluded", s.delete_excluded, "also delete excluded files from dest dirs");
  app.add_flag("-c,--checksum", s.checksum, "skip based on checksum, not mod-time & size");
  app.add_flag("-n,--dry-run", s.dry_run, "perform a trial run with no changes made");
  bool whole_file = false, no_whole_file = false;
  app.add_flag("-W,--whole-file", whole_file, "copy files whole (without delta-xfer algorithm)");
  app.add_flag("--no-whole-file", no_whole_file, "use the delta-xfer algorithm, also locally");
  app.add_flag("-v,--verbose", o.verbose, "increase verbosity");
  app.add_flag("-q,--quiet", o.quiet, "suppress non-error messages");
  app.add_flag("-i,--itemize-changes", o.itemize, "output a change-summary for all updates");
  app.add_flag("--stats", o.stats, "give some file-transfer stats");
  app.add_flag("--progress", cmd.progress, "show progress during transfer (one overall line)");
  app.add_flag("--partial", s.partial, "keep partially transferred files");
  app.add_option("--partial-dir", s.partial_dir, "put a partially transferred file into DIR");
  app.add_flag("--inplace", s.inplace, "update destination files in-place");
  bool partial_progress = false;
  app.add_flag("-P", partial_progress, "same as --partial --progress");
  app.add_flag("--mkpath", cmd.mkpath, "create the destination's path component");
  app.add_option("-e,--rsh", cmd.rsh, "the ssh command line to emulate (ssh -p -i -l -o -F)");
  app.add_option("--helper", cmd.helper_path, "the helper program on the remote side");
  app.add_option("--transport", cmd.transport,
                 "data plane: auto (QUIC, else SSH), quic (QUIC or fail), ssh")
      ->check(CLI::IsMember({"auto", "quic", "ssh"}));
  app.add_option("--streams", cmd.streams,
                 "QUIC streams in flight at once, one per file or range (1-1000)")
      ->check(CLI::Range(1u, control::kMaxFileStreams));
  app.add_option("--quic-port", cmd.quic_ports,
                 "UDP port or range N-M the helper listens on for QUIC (for firewalls)");
  std::string cc_name, bwlimit_text;
  app.add_option("--cc", cc_name,
                 "congestion control of the QUIC data plane: bbr2, bbr, cubic or reno");
  app.add_option("--bwlimit", bwlimit_text,
                 "limit the data rate each way, in KiB/s or with a K/M/G suffix; 0: none");
  app.add_flag("--accept-new-host-key", cmd.accept_new_host_key,
               "trust and record the key of a host not yet in known_hosts");
  bool sparse = false;  // holes are always kept; accepted for rsync scripts
  app.add_flag("-S,--sparse", sparse, "keep sparse files sparse (always on)");
  app.add_flag("--no-D", no_d, "turn off --devices and --specials");
  // Filter options were taken out above; they are declared here for --help only.
  app.add_option("--exclude", "exclude files matching PATTERN");
  app.add_option("--include", "don't exclude files matching PATTERN");
  app.add_option("--exclude-from", "read exclude patterns from FILE");
  app.add_option("--include-from", "read include patterns from FILE");
  std::vector<std::string> paths;
  app.add_option("paths", paths, "SRC... DEST");

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  if (help) {
    cmd.show_help = true;
    cmd.help_text = app.help();
    return cmd;
  }
  if (version) {
    cmd.show_version = true;
    return cmd;
  }
  if (!cc_name.empty()) {
    cmd.congestion_control = dataplane::parse_congestion_control(cc_name);
    if (!cmd.congestion_control)
      throw UsageError("--cc wants bbr2, bbr, cubic or reno, not \"" + cc_name + "\"");
  }
  if (!bwlimit_text.empty()) {
    std::optional<uint64_t> rate = dataplane::parse_bwlimit(bwlimit_text);
    if (!rate) {
      throw UsageError(
          "--bwlimit wants a rate such as 500 (KiB/s), 2M or 0 (at least 512 bytes/s), not \"" +
          bwlimit_text + "\"");
    }
    cmd.bwlimit = *rate;
  }
  if (archive) {
    s.recursive = s.links = s.perms = s.times = s.group = s.owner = true;
    s.devices = s.specials = true;
  }
  if (devices_specials) s.devices = s.specials = true;
  if (no_d) s.devices = s.specials = false;
  if (s.delete_excluded) s.del = true;
  if (partial_progress) s.partial = cmd.progress = true;
  if (!s.partial_dir.empty()) {
    if (std::string error = engine::check_partial_dir(s.partial_dir, true); !error.empty())
      throw UsageError(error);
    // As rsync: implies --partial, and a relative DIR is neither sent nor deleted, by an
    // exclude rule after all others.
    while (s.partial_dir.size() > 1 && s.partial_dir.back() == '/') s.partial_dir.pop_back();
    s.partial = true;
    if (s.partial_dir.front() != '/')
      s.filters.add(FilterRules::Kind::exclude, s.partial_dir + "/");
  }
  if (s.inplace && !s.partial_dir.empty())
    throw UsageError("--inplace cannot be used with --partial-dir");
  // The last of -W and --no-whole-file wins, as in rsync; CLI11 does not say which came
  // last, so look at the arguments.
  if (whole_file || no_whole_file) {
    auto last = std::find_if(args.rbegin(), args.rend(), [](const std::string& a) {
      return a == "--whole-file" || a == "--no-whole-file" ||
             (a.size() > 1 && a[0] == '-' && a[1] != '-' && a.find('W') != std::string::npos);
    });
    cmd.whole_file = last == args.rend() || *last != "--no-whole-file";
  }
  if (paths.size() < 2)
    throw UsageError("need a source and a destination: arsync [OPTION]... SRC... DEST");
  cmd.destination = paths.back();
  paths.pop_back();
  cmd.sources = std::move(paths);
  return cmd;
}

}  // namespace arsync::cli
