// rsync's include/exclude rules (--include, --exclude, --include-from, --exclude-from).
//
// Matching follows rsync(1) "INCLUDE/EXCLUDE PATTERN RULES": the first matching rule wins;
// a pattern without '/' (ignoring a trailing one) matches the final path component; a
// pattern with an inner '/' or "**" matches the whole path (unanchored patterns at any
// component boundary, a leading '/' anchors to the transfer root); a trailing '/' matches
// directories only; '*' stops at '/', '**' does not, '?' is one non-'/' character, [...] a
// class; "dir/***" matches dir itself and everything below it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arsync::fsio {

class FilterRules {
 public:
  enum class Kind { include, exclude };

  // Adds one rule as written on the command line. A leading "+ " or "- " overrides `kind`
  // (as rsync accepts for --include/--exclude); a lone "!" clears the list.
  void add(Kind kind, std::string_view pattern);

  // Adds one rule per line of `file` ("-" reads stdin). Blank lines and lines starting
  // with ';' or '#' are skipped; a trailing '\r' is removed. Throws std::runtime_error
  // naming the file and the cause when it cannot be read.
  void add_from_file(Kind kind, const std::string& file);

  // `path` is relative to the transfer root ("a/b/c", no leading '/').
  bool excluded(std::string_view path, bool is_dir) const;

  bool empty() const { return rules_.empty(); }

  // The rules in force, each as "+ PATTERN" or "- PATTERN": what add() rebuilds them from on
  // the other side of a connection.
  const std::vector<std::string>& rule_texts() const { return texts_; }

 private:
  std::vector<std::string> texts_;
  // A pattern is compiled once, in add(), into a list of tokens; matching walks that list
  // against the text with at most two resumption points (the latest '*' and the latest
  // "**"), so it never recurses and allocates nothing.
  struct Token {
    enum class Op : unsigned char { literal, any_char, char_set, star, double_star };
    Op op = Op::literal;
    bool three_stars = false;  // double_star: written with three or more '*'
    bool last_double_star = false;
    std::uint32_t first = 0;  // literal: offset into Program::chars; char_set: index into sets
    std::uint32_t size = 0;   // literal: length
    std::uint32_t slashes_after = 0;  // double_star: '/' in the literals that follow it
  };

  // The bytes a bracket expression accepts; '/' is never among them.
  struct CharSet {
    std::array<std::uint64_t, 4> bits{};
    void add(unsigned char c) { bits[c >> 6] |= std::uint64_t{1} << (c & 63); }
    bool has(unsigned char c) const { return (bits[c >> 6] >> (c & 63)) & 1; }
  };

  struct Program {
    std::vector<Token> tokens;
    std::string chars;  // the bytes of all literal tokens
    std::vector<CharSet> sets;

    // Sets the double_star fields after the tokens change.
    void finish();
    // Whether the whole of `text` matches.
    bool matches(std::string_view text) const;
  };

  // Where in a path a program is tried; decided by the pattern as written.
  enum class Where : unsigned char {
    whole_path,       // leading '/': the whole path
    last_components,  // no "**": the path's last `slashes + 1` components
    any_boundary,     // "**" inside: `root` (the pattern) or `program` ("**/" + pattern)
    from_root,        // starts with "**": `program`, or `root` as if the path began with '/'
  };

  struct Matcher {
    Program program;
    Program root;  // see Where
    bool has_root = false;
    Where where = Where::whole_path;
    std::size_t slashes = 0;  // last_components: '/' in the pattern as written
    bool matches(std::string_view path) const;
  };
  static Matcher make_matcher(Program program, Where where, std::size_t slashes);

  struct Rule {
    bool include = false;
    bool never = false;           // empty or malformed pattern: matches nothing
    bool dir_only = false;        // trailing '/'
    bool has_dir_itself = false;  // ends in "/***": `dir_itself` matches the directory
    Matcher pattern;
    Matcher dir_itself;
  };

  std::vector<Rule> rules_;
};

}  // namespace arsync::fsio
