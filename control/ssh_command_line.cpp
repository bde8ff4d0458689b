// rsync's -e argument (an ssh command line) and HOST:PATH arguments, mapped onto libssh.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string_view>

#include "control/ssh_session.h"
#include "control/words.h"

namespace arsync::control {

namespace {

[[noreturn]] void bad_rsh(const std::string& e_arg, const std::string& why) {
  throw std::invalid_argument("-e '" + e_arg + "': " + why);
}

// ssh expands a leading ~/ in key and file names itself, and in -e the shell never saw it.
std::string expand_home(const std::string& path) {
  if (path != "~" && path.rfind("~/", 0) != 0) return path;
  std::string home;
  if (const char* env = std::getenv("HOME"); env != nullptr && *env != '\0') {
    home = env;
  } else if (const passwd* pw = ::getpwuid(::getuid()); pw != nullptr) {
    home = pw->pw_dir;
  } else {
    return path;
  }
  return home + path.substr(1);
}

uint16_t parse_port(const std::string& e_arg, const std::string& value) {
  unsigned long port = 0;
  const bool digits =
      !value.empty() && value.size() <= 5 && std::all_of(value.begin(), value.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
  if (digits) port = std::stoul(value);
  if (!digits || port == 0 || port > 65535) bad_rsh(e_arg, "bad port '" + value + "'");
  return static_cast<uint16_t>(port);
}

bool parse_yes_no(const std::string& e_arg, const std::string& name, const std::string& value) {
  const std::string v = lowercase(value);
  if (v == "yes") return true;
  if (v == "no") return false;
  bad_rsh(e_arg, "-o " + name + " wants yes or no, not '" + value + "'");
}

// What one `ssh ...` command line sets, before defaults: the first value of each setting wins.
struct RshSettings {
  std::optional<uint16_t> port;
  std::optional<std::string> user, config_file, known_hosts_file, strict_host_key_checking;
  std::optional<bool> batch_mode;
  std::vector<std::string> identity_files;
};

template <typename T>
void set_once(std::optional<T>& slot, T value) {
  if (!slot) slot = std::move(value);
}

// One -o argument: "Name=Value", "Name Value" or "Name = Value", as ssh_config(5) spells it.
void apply_ssh_option(const std::string& e_arg, const std::string& option, RshSettings& out) {
  const std::string text = trimmed(option);
  const size_t split = text.find_first_of("= \t");
  if (split == 0 || split == std::string::npos) bad_rsh(e_arg, "-o '" + option + "' has no value");
  const std::string name = text.substr(0, split);
  std::string value = trimmed(text.substr(split));
  if (!value.empty() && value.front() == '=') value = trimmed(value.substr(1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  if (value.empty()) bad_rsh(e_arg, "-o " + name + " has no value");

  const std::string key = lowercase(name);
  if (key == "port") {
    set_once(out.port, parse_port(e_arg, value));
  } else if (key == "user") {
    set_once(out.user, value);
  } else if (key == "identityfile") {
    out.identity_files.push_back(expand_home(value));
  } else if (key == "userknownhostsfile") {
    if (value.find_first_of(" \t") != std::string::npos) {
      bad_rsh(e_arg, "-o UserKnownHostsFile with several files is not supported");
    }
    set_once(out.known_hosts_file, expand_home(value));
  } else if (key == "stricthostkeychecking") {
    static const std::set<std::string> kValues = {"yes", "no", "off", "ask", "accept-new"};
    if (kValues.count(lowercase(value)) == 0) {
      bad_rsh(e_arg,
              "-o StrictHostKeyChecking wants yes, accept-new, no or ask, not '" + value + "'");
    }
    set_once(out.strict_host_key_checking, lowercase(value));
  } else if (key == "batchmode") {
    set_once(out.batch_mode, parse_yes_no(e_arg, name, value));
  } else {
    bad_rsh(e_arg, "unsupported ssh option -o " + name +
                       " (supported: Port, User, IdentityFile, StrictHostKeyChecking, "
                       "UserKnownHostsFile, BatchMode)");
  }
}

bool is_ssh_program(const std::string& word) {
  return word == "ssh" || (word.size() > 4 && word.compare(word.size() - 4, 4, "/ssh") == 0);
}

}  // namespace

RshCommand parse_rsh_command(const std::string& e_arg) {
  std::vector<std::string> words;
  try {
    words = split_shell_words(e_arg);
  } catch (const std::invalid_argument& e) {
    bad_rsh(e_arg, e.what());
  }
  if (words.empty()) bad_rsh(e_arg, "no remote shell given");
  if (!is_ssh_program(words[0])) {
    bad_rsh(e_arg, "the remote shell must be ssh, not '" + words[0] + "'");
  }
  RshSettings settings;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.size() < 2 || word[0] != '-') {
      bad_rsh(e_arg, "unexpected argument '" + word + "' (rsync adds the host and command)");
    }
    const char flag = word[1];
    if (std::string_view("pilFo").find(flag) == std::string_view::npos) {
      bad_rsh(e_arg,
              "unsupported ssh flag -" + std::string(1, flag) + " (supported: -p -i -l -F -o)");
    }
    std::string value;
    if (word.size() > 2) {
      value = word.substr(2);  // -p2222
    } else if (i + 1 < words.size()) {
      value = words[++i];
    } else {
      bad_rsh(e_arg, "-" + std::string(1, flag) + " needs a value");
    }
    switch (flag) {
      case 'p':
        set_once(settings.port, parse_port(e_arg, value));
        break;
      case 'i':
        settings.identity_files.push_back(expand_home(value));
        break;
      case 'l':
        set_once(settings.user, value);
        break;
      case 'F':
        set_once(settings.config_file, expand_home(value));
        break;
      default:
        apply_ssh_option(e_arg, value, settings);
        break;
    }
  }

  RshCommand out;
  out.target.port = settings.port.value_or(0);
  out.target.user = settings.user.value_or("");
  out.target.config_file = settings.config_file.value_or("");
  out.target.identity_files = std::move(settings.identity_files);
  out.options.known_hosts_file = settings.known_hosts_file.value_or("");
  const std::string strict = settings.strict_host_key_checking.value_or("ask");
  // "no" would also connect to a host whose key changed; we never do that.
  out.options.accept_new_host_key = strict == "accept-new" || strict == "no" || strict == "off";
  out.options.allow_prompt = !settings.batch_mode.value_or(false) && strict != "yes";
  return out;
}

std::optional<RemoteSpec> parse_remote_spec(const std::string& arg) {
  const auto bad = [&](const std::string& why) -> std::invalid_argument {
    return std::invalid_argument("'" + arg + "': " + why);
  };
  if (arg.rfind("rsync://", 0) == 0) throw bad("rsync daemon URLs are not supported");
  const size_t first_colon = arg.find(':');
  const size_t first_slash = arg.find('/');
  // As rsync decides: remote only if a colon comes before any slash.
  if (first_colon == std::string::npos ||
      (first_slash != std::string::npos && first_slash < first_colon)) {
    return std::nullopt;
  }

  RemoteSpec spec;
  size_t host_start = 0;
  const size_t at = arg.rfind('@', first_colon);
  const size_t bracket = arg.find('[');
  // [user@][v6addr]:path: the address holds colons, so the first colon is not the separator.
  if (bracket != std::string::npos && bracket < first_colon &&
      (bracket == 0 || arg[bracket - 1] == '@')) {
    const size_t close = arg.find(']', bracket);
    if (close == std::string::npos) throw bad("unterminated '['");
    if (close + 1 >= arg.size() || arg[close + 1] != ':') throw bad("expected ':' after ']'");
    if (bracket > 0) spec.user = arg.substr(0, bracket - 1);
    spec.host = arg.substr(bracket + 1, close - bracket - 1);
    spec.path = arg.substr(close + 2);
    host_start = bracket;
  } else {
    if (at != std::string::npos) {
      spec.user = arg.substr(0, at);
      host_start = at + 1;
    }
    spec.host = arg.substr(host_start, first_colon - host_start);
    spec.path = arg.substr(first_colon + 1);
  }
  if (host_start > 0 && spec.user.empty()) throw bad("empty user name before '@'");
  if (spec.host.empty()) throw bad("no host before ':'");
  if (!spec.path.empty() && spec.path.front() == ':') {
    throw bad("rsync daemon syntax (host::module) is not supported");
  }
  return spec;
}

}  // namespace arsync::control
