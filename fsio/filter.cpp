#include "fsio/filter.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace arsync::fsio {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

std::size_t count_slashes(std::string_view text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '/'));
}

// The ASCII members of a "[:name:]" class; false for an unknown name.
bool add_named_class(std::string_view name, std::array<bool, 128>& members) {
  bool (*test)(int) = nullptr;
  if (name == "alnum") {
    test = [](int c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'); };
  } else if (name == "alpha") {
    test = [](int c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; };
  } else if (name == "blank") {
    test = [](int c) { return c == ' ' || c == '\t'; };
  } else if (name == "cntrl") {
    test = [](int c) { return c < 32 || c == 127; };
  } else if (name == "digit") {
    test = [](int c) { return c >= '0' && c <= '9'; };
  } else if (name == "graph") {
    test = [](int c) { return c > 32 && c < 127; };
  } else if (name == "lower") {
    test = [](int c) { return c >= 'a' && c <= 'z'; };
  } else if (name == "print") {
    test = [](int c) { return c >= 32 && c < 127; };
  } else if (name == "punct") {
    test = [](int c) {
      const bool alnum = (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
      return c > 32 && c < 127 && !alnum;
    };
  } else if (name == "space") {
    test = [](int c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  } else if (name == "upper") {
    test = [](int c) { return c >= 'A' && c <= 'Z'; };
  } else if (name == "xdigit") {
    test = [](int c) { return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f'); };
  } else {
    return false;
  }
  for (int c = 0; c < 128; ++c) members[static_cast<std::size_t>(c)] |= test(c);
  return true;
}

std::runtime_error file_error(const std::string& file, int err) {
  return std::runtime_error("cannot read filter file \"" + file +
                            "\": " + std::generic_category().message(err));
}

}  // namespace

// ---- Matching ----------------------------------------------------------------------------

// Tokens are matched left to right, with two resumption points instead of recursion.
// A '*' first takes nothing; when something after it fails, it takes one more byte and the
// tokens after it are tried again. Only the latest '*' is ever widened: widening an earlier
// one in the same component would only push the later one further right, and one in an
// earlier component is pinned by the '/' after it. A '*' that reaches the end of the text
// has failed for good, since a later start would only leave it fewer choices. One that
// reaches a '/' hands over to the latest "**", which then moves past the next '/' of the
// text (see below); with no '*' to widen, the "**" takes one more byte. An earlier "**" is
// never revisited, since the latest one can absorb whatever it could have. The work is
// thus polynomial in the sizes of pattern and text; no pattern makes it exponential.
bool FilterRules::Program::matches(std::string_view text) const {
  const std::size_t n = text.size();
  const std::size_t count = tokens.size();
  std::size_t pi = 0;            // next token
  std::size_t ti = 0;            // next byte of text
  std::size_t star_pi = kNone;   // token after the latest '*' (kNone: none since the "**")
  std::size_t star_ti = 0;       // where the text after that '*' starts
  std::size_t dstar_pi = kNone;  // token after the latest "**"
  std::size_t dstar_ti = 0;
  std::size_t dstar_slashes = 0;  // '/' in text[dstar_ti..]

  // Moves the "**" resumption point to the first spot from which the rest can still hold
  // the '/' its literals need: at least slashes_after, exactly that after the last "**".
  auto place_double_star = [&]() {
    const Token& t = tokens[dstar_pi - 1];
    if (dstar_slashes < t.slashes_after) return false;
    if (t.last_double_star) {
      while (dstar_slashes > t.slashes_after) {
        dstar_ti = text.find('/', dstar_ti) + 1;
        --dstar_slashes;
      }
    }
    return true;
  };

  for (;;) {
    if (pi < count) {
      const Token& t = tokens[pi];
      switch (t.op) {
        case Token::Op::literal:
          if (n - ti >= t.size && text.compare(ti, t.size, chars.data() + t.first, t.size) == 0) {
            ti += t.size;
            ++pi;
            continue;
          }
          break;
        case Token::Op::any_char:
          if (ti < n && text[ti] != '/') {
            ++ti;
            ++pi;
            continue;
          }
          break;
        case Token::Op::char_set:
          if (ti < n && sets[t.first].has(static_cast<unsigned char>(text[ti]))) {
            ++ti;
            ++pi;
            continue;
          }
          break;
        case Token::Op::star:
          star_pi = ++pi;
          star_ti = ti;
          continue;
        case Token::Op::double_star:
          dstar_pi = ++pi;
          dstar_ti = ti;
          dstar_slashes = count_slashes(text.substr(ti));
          if (!place_double_star()) return false;
          star_pi = kNone;
          ti = dstar_ti;
          continue;
      }
    } else if (ti == n) {
      return true;
    }

    // A mismatch: widen the latest '*' if it can take another byte.
    if (star_pi != kNone) {
      // Up to the end of the text without a match: no later start can do better.
      if (star_ti == n) return false;
      if (text[star_ti] != '/') {
        pi = star_pi;
        ti = ++star_ti;
        continue;
      }
      // Stuck at a '/'. So is every run with the "**" ending anywhere up to the first '/'
      // after where it ends now: nothing before the pattern's first '/' can match one, so
      // that '/' lines up with the same '/' of the text and all that follows is the same.
      if (dstar_pi == kNone) return false;
      dstar_ti = text.find('/', dstar_ti) + 1;
      --dstar_slashes;
    } else {
      // Otherwise widen the latest "**" by one byte.
      if (dstar_pi == kNone || dstar_ti == n) return false;
      if (text[dstar_ti] == '/') --dstar_slashes;
      ++dstar_ti;
    }
    if (!place_double_star()) return false;
    star_pi = kNone;
    pi = dstar_pi;
    ti = dstar_ti;
  }
}

bool FilterRules::Matcher::matches(std::string_view path) const {
  switch (where) {
    case Where::whole_path:
      return program.matches(path);
    case Where::any_boundary:
    case Where::from_root:
      return (has_root && root.matches(path)) || program.matches(path);
    case Where::last_components: {
      // The suffix holding exactly `slashes` '/' (a '/' inside a bracket expression counts
      // too, and then nothing can match as no bracket expression matches '/').
      std::size_t start = 0;
      std::size_t seen = 0;
      for (std::size_t i = path.size(); i-- > 0;) {
        if (path[i] == '/' && seen++ == slashes) {
          start = i + 1;
          break;
        }
      }
      if (seen < slashes) return false;
      return program.matches(path.substr(start));
    }
  }
  return false;
}

bool FilterRules::excluded(std::string_view path, bool is_dir) const {
  for (const Rule& rule : rules_) {
    if (rule.never || (rule.dir_only && !is_dir)) continue;
    if (rule.pattern.matches(path) ||
        (is_dir && rule.has_dir_itself && rule.dir_itself.matches(path))) {
      return !rule.include;
    }
  }
  return false;
}

// ---- Compiling ---------------------------------------------------------------------------

void FilterRules::Program::finish() {
  // Walk backwards so each "**" sees the '/' that follow it.
  std::size_t slashes = 0;
  bool later_double_star = false;
  for (std::size_t i = tokens.size(); i-- > 0;) {
    Token& t = tokens[i];
    if (t.op == Token::Op::literal) {
      slashes += count_slashes(std::string_view(chars).substr(t.first, t.size));
    } else if (t.op == Token::Op::double_star) {
      t.slashes_after = static_cast<std::uint32_t>(slashes);
      t.last_double_star = !later_double_star;
      later_double_star = true;
    }
  }
}

namespace {

// Reads one (possibly backslash-escaped) byte of a bracket expression.
bool read_set_byte(std::string_view text, std::size_t& pos, unsigned char& out) {
  if (pos < text.size() && text[pos] == '\\') ++pos;
  if (pos >= text.size()) return false;
  out = static_cast<unsigned char>(text[pos++]);
  return true;
}

// Parses the bracket expression whose '[' is at `pos` and leaves `pos` after its ']'.
// False if it is malformed: no closing ']', an unknown "[:name:]" or a trailing '\\'.
template <typename Set>
bool read_set(std::string_view text, std::size_t& pos, Set& set) {
  ++pos;  // '['
  bool negate = false;
  if (pos < text.size() && (text[pos] == '!' || text[pos] == '^')) {
    negate = true;
    ++pos;
  }
  std::array<bool, 256> members{};
  std::array<bool, 128> named{};
  for (bool first = true;; first = false) {
    if (pos >= text.size()) return false;
    if (text[pos] == ']' && !first) {
      ++pos;
      break;
    }
    if (text.compare(pos, 2, "[:") == 0) {
      // "[:name:]" when the first ']' after "[:" closes a ":]"; otherwise the '[' is an
      // ordinary member.
      const std::size_t close = text.find(']', pos + 2);
      if (close != std::string_view::npos && close > pos + 2 && text[close - 1] == ':') {
        if (!add_named_class(text.substr(pos + 2, close - 1 - (pos + 2)), named)) return false;
        pos = close + 1;
        continue;
      }
    }
    unsigned char low = 0;
    if (!read_set_byte(text, pos, low)) return false;
    if (pos + 1 < text.size() && text[pos] == '-' && text[pos + 1] != ']') {
      ++pos;
      unsigned char high = 0;
      if (!read_set_byte(text, pos, high)) return false;
      // A reversed range ("z-a") holds just its first byte.
      for (unsigned c = low; c <= std::max(low, high); ++c) members[c] = true;
    } else {
      members[low] = true;
    }
  }
  for (std::size_t c = 0; c < named.size(); ++c) members[c] = members[c] || named[c];
  for (std::size_t c = 0; c < members.size(); ++c) {
    if (members[c] != negate && c != '/') set.add(static_cast<unsigned char>(c));
  }
  return true;
}

}  // namespace

FilterRules::Matcher FilterRules::make_matcher(Program program, Where where, std::size_t slashes) {
  Matcher m;
  m.where = where;
  m.slashes = slashes;
  const std::vector<Token>& tokens = program.tokens;
  if (where == Where::any_boundary) {
    // P at any component boundary: P on the whole path, or "**/P" on it. One run of "**/P"
    // lets the "**" step over the boundaries instead of starting over at each of them.
    m.root = program;
    m.has_root = true;
    program.chars += '/';
    program.tokens.insert(program.tokens.begin(),
                          {Token{.op = Token::Op::double_star},
                           Token{.op = Token::Op::literal,
                                 .first = static_cast<std::uint32_t>(program.chars.size() - 1),
                                 .size = 1}});
    program.finish();
  } else if (where == Where::from_root && tokens.size() >= 2 &&
             tokens[0].op == Token::Op::double_star && tokens[1].op == Token::Op::literal &&
             program.chars[tokens[1].first] == '/') {
    // "**/rest" also matches at the root, as if the path started with '/': then "**" takes
    // nothing and the '/' of "/rest" is that virtual one, so `rest` must match the path.
    m.root = program;
    m.root.tokens.erase(m.root.tokens.begin());
    Token& slash = m.root.tokens.front();
    ++slash.first;
    if (--slash.size == 0) m.root.tokens.erase(m.root.tokens.begin());
    m.root.finish();
    m.has_root = true;
  }
  m.program = std::move(program);
  return m;
}

void FilterRules::add(Kind kind, std::string_view pattern) {
  if (pattern == "!") {
    rules_.clear();
    texts_.clear();
    return;
  }
  if (pattern.starts_with("+ ")) {
    kind = Kind::include;
    pattern.remove_prefix(2);
  } else if (pattern.starts_with("- ")) {
    kind = Kind::exclude;
    pattern.remove_prefix(2);
  }
  if (pattern.empty()) return;
  texts_.push_back((kind == Kind::include ? "+ " : "- ") + std::string(pattern));

  Rule rule;
  rule.include = kind == Kind::include;
  if (pattern.back() == '/') {
    rule.dir_only = true;
    pattern.remove_suffix(1);
  }
  const bool anchored = !pattern.empty() && pattern.front() == '/';
  if (anchored) pattern.remove_prefix(1);
  if (pattern.empty()) {
    rule.never = true;  // "/" matches nothing
    rules_.push_back(std::move(rule));
    return;
  }

  // The scope follows the pattern as written, '/' and "**" inside brackets included.
  Where where = Where::last_components;
  if (anchored) {
    where = Where::whole_path;
  } else if (pattern.starts_with("**")) {
    where = Where::from_root;
  } else if (pattern.find("**") != std::string_view::npos) {
    where = Where::any_boundary;
  }
  const std::size_t slashes = count_slashes(pattern);

  Program program;
  using Op = Token::Op;
  auto push_literal = [&](std::size_t first) {
    if (program.chars.size() > first) {
      program.tokens.push_back({.op = Op::literal,
                                .first = static_cast<std::uint32_t>(first),
                                .size = static_cast<std::uint32_t>(program.chars.size() - first)});
    }
  };

  // Without '*', '?' or '[' the pattern is plain text, backslashes included.
  if (pattern.find_first_of("*?[") == std::string_view::npos) {
    program.chars = std::string(pattern);
    push_literal(0);
  } else {
    std::size_t i = 0;
    std::size_t literal_start = 0;
    while (i < pattern.size() && !rule.never) {
      const char c = pattern[i];
      if (c == '*' || c == '?' || c == '[') {
        push_literal(literal_start);
        if (c == '*') {
          const std::size_t run = pattern.find_first_not_of('*', i);
          const std::size_t stars = (run == std::string_view::npos ? pattern.size() : run) - i;
          i += stars;
          program.tokens.push_back(
              {.op = stars == 1 ? Op::star : Op::double_star, .three_stars = stars >= 3});
        } else if (c == '?') {
          ++i;
          program.tokens.push_back({.op = Op::any_char});
        } else {
          CharSet set;
          if (read_set(pattern, i, set)) {
            program.tokens.push_back(
                {.op = Op::char_set, .first = static_cast<std::uint32_t>(program.sets.size())});
            program.sets.push_back(set);
          } else {
            rule.never = true;  // malformed bracket expression
          }
        }
        literal_start = program.chars.size();
      } else if (c == '\\') {
        if (i + 1 == pattern.size()) {
          rule.never = true;  // nothing left to escape
        } else {
          program.chars += pattern[i + 1];
          i += 2;
        }
      } else {
        program.chars += c;
        ++i;
      }
    }
    push_literal(literal_start);
  }
  if (rule.never) {
    rules_.push_back(std::move(rule));
    return;
  }
  program.finish();

  // "dir/***" (three or more '*') also matches the directory "dir" itself, as if its path
  // had a trailing '/' for the pattern's last '/' while "***" takes nothing: that is what
  // the pattern without its "/***" matches.
  const std::vector<Token>& tokens = program.tokens;
  if (tokens.size() >= 2 && tokens.back().op == Op::double_star && tokens.back().three_stars) {
    const Token& before = tokens[tokens.size() - 2];
    if (before.op == Op::literal && program.chars[before.first + before.size - 1] == '/') {
      Program dir = program;
      dir.tokens.pop_back();
      if (--dir.tokens.back().size == 0) dir.tokens.pop_back();
      dir.finish();
      rule.dir_itself = make_matcher(std::move(dir), where, slashes);
      rule.has_dir_itself = true;
    }
  }
  rule.pattern = make_matcher(std::move(program), where, slashes);
  rules_.push_back(std::move(rule));
}

// ---- Files -------------------------------------------------------------------------------

void FilterRules::add_from_file(Kind kind, const std::string& file) {
  const bool from_stdin = file == "-";
  const int fd = from_stdin ? STDIN_FILENO : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw file_error(file, errno);
  std::string content;
  char buffer[16384];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got > 0) {
      content.append(buffer, static_cast<std::size_t>(got));
    } else if (got == 0) {
      break;
    } else if (errno != EINTR) {
      const int err = errno;
      if (!from_stdin) ::close(fd);
      throw file_error(file, err);
    }
  }
  if (!from_stdin) ::close(fd);

  // "\n", "\r\n" and a lone "\r" each end a line.
  std::string_view rest = content;
  while (!rest.empty()) {
    const std::size_t end = std::min(rest.find_first_of("\r\n"), rest.size());
    const std::string_view line = rest.substr(0, end);
    std::size_t next = end;
    if (next < rest.size()) next += rest.compare(next, 2, "\r\n") == 0 ? 2 : 1;
    rest.remove_prefix(next);
    if (line.empty() || line.front() == ';' || line.front() == '#') continue;
    add(kind, line);
  }
}

}  // namespace arsync::fsio
