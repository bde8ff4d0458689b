#include "helper/confinement.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/words.h"
#include "dataplane/socket_address.h"
#include "fsio/beneath.h"
#include "fsio/relative_path.h"

namespace arsync::helper {

Confinement parse_flags(const std::vector<std::string>& args) {
  Confinement c;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--server") {
      c.server = true;
    } else if (a == "--read-only") {
      c.read_only = true;
    } else if (a == "--write-only") {
      c.write_only = true;
    } else if (a == "--no-delete") {
      c.no_delete = true;
    } else if (a == "--root" && i + 1 < args.size()) {
      c.root = args[++i];
    } else if (a.starts_with("--root=")) {
      c.root = a.substr(7);
    } else if (a == "--no-quic") {
      c.no_quic = true;
    } else if ((a == "--quic-port" && i + 1 < args.size()) || a.starts_with("--quic-port=")) {
      c.quic_ports = a == "--quic-port" ? args[++i] : a.substr(12);
      if (!dataplane::parse_port_range(c.quic_ports)) {
        throw RefusedError("--quic-port wants N or N-M, not \"" + c.quic_ports + "\"");
      }
    } else {
      throw RefusedError("unsupported helper argument \"" + a + "\"");
    }
  }
  return c;
}

Confinement effective_confinement(const Confinement& forced,
                                  const std::optional<std::string>& original_command) {
  if (!original_command) return forced;
  std::vector<std::string> words;
  try {
    words = control::split_shell_words(*original_command);
  } catch (const std::invalid_argument& e) {
    throw RefusedError(std::string("cannot parse the requested command: ") + e.what());
  }
  std::string program = words.empty() ? std::string() : std::string(fsio::leaf_name(words[0]));
  if (program != "arsync-helper") {
    throw RefusedError("this key only runs arsync-helper; refused \"" + *original_command + "\"");
  }
  Confinement asked = parse_flags({words.begin() + 1, words.end()});
  Confinement out = forced;
  out.server = asked.server;
  out.read_only = forced.read_only || asked.read_only;
  out.write_only = forced.write_only || asked.write_only;
  out.no_delete = forced.no_delete || asked.no_delete;
  out.no_quic = forced.no_quic || asked.no_quic;
  if (forced.quic_ports.empty()) out.quic_ports = asked.quic_ports;
  if (!asked.root.empty()) {
    if (forced.root.empty()) {
      out.root = asked.root;
    } else if (fsio::is_safe_relative_path(asked.root)) {
      out.root = forced.root + "/" + asked.root;  // narrower: inside the forced root
    } else {
      throw RefusedError("--root \"" + asked.root + "\" is outside the forced root");
    }
  }
  return out;
}

std::string resolve_path(const Confinement& confinement, const std::string& path) {
  if (confinement.root.empty()) return path.empty() ? std::string(".") : path;
  // "", ".", "dir", "dir/" and "dir/." are all fine; anything leaving the root is not.
  std::string rel = path;
  bool trailing = !rel.empty() && rel.back() == '/';
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel == "." || rel.ends_with("/.")) {
    rel.resize(rel.size() - 1);
    while (!rel.empty() && rel.back() == '/') rel.pop_back();
    trailing = true;
  }
  if (!rel.empty() && !fsio::is_safe_relative_path(rel)) {
    throw RefusedError("path \"" + path + "\" is outside the permitted root");
  }
  // No symlink on the way: the parent must resolve beneath the root as a real directory.
  fsio::UniqueFd root(::open(confinement.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    throw RefusedError("cannot open root \"" + confinement.root + "\": " + std::strerror(errno));
  }
  if (!rel.empty()) {
    fsio::UniqueFd parent = fsio::open_dir_beneath(root.get(), fsio::parent_path(rel));
    struct stat st;
    std::string leaf(fsio::leaf_name(rel));
    bool leaf_is_link = parent &&
                        ::fstatat(parent.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                        S_ISLNK(st.st_mode);
    if (!parent || leaf_is_link) {
      throw RefusedError("path \"" + path +
                         "\" does not resolve beneath the root without symlinks");
    }
  }
  std::string out = confinement.root + "/" + rel;
  if (trailing) out += "/";
  return out;
}

}  // namespace arsync::helper
