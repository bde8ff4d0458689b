#include "fsio/filter.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace arsync::fsio {
namespace {

namespace fs = std::filesystem;
using Kind = FilterRules::Kind;

// Rules are written as on rsync's --exclude command line: plain patterns exclude, and a
// "+ " or "- " prefix picks the kind explicitly.
FilterRules MakeRules(const std::vector<std::string>& rules) {
  FilterRules filter;
  for (const std::string& rule : rules) filter.add(Kind::exclude, rule);
  return filter;
}

struct PathCase {
  std::string path;
  bool is_dir;
  bool excluded;
};

std::string Describe(const PathCase& c) {
  return "path \"" + c.path + "\"" + (c.is_dir ? " (dir)" : " (file)");
}

void ExpectPaths(const std::vector<std::string>& rules, const std::vector<PathCase>& cases) {
  const FilterRules filter = MakeRules(rules);
  std::string rule_text;
  for (const std::string& rule : rules) rule_text += "[" + rule + "] ";
  for (const PathCase& c : cases) {
    EXPECT_EQ(filter.excluded(c.path, c.is_dir), c.excluded)
        << "rules " << rule_text << Describe(c);
  }
}

// One exclude pattern against many paths: `excluded` is then exactly "the pattern matches".
struct MatchCase {
  std::string pattern;
  std::string path;
  bool is_dir;
  bool matches;
};

void ExpectMatches(const std::vector<MatchCase>& cases) {
  for (const MatchCase& c : cases) {
    FilterRules filter;
    filter.add(Kind::exclude, c.pattern);
    EXPECT_EQ(filter.excluded(c.path, c.is_dir), c.matches)
        << "pattern \"" << c.pattern << "\" " << Describe({c.path, c.is_dir, false});
  }
}

constexpr bool kDir = true;
constexpr bool kFile = false;

TEST(FilterRules, NoRulesIncludeEverything) {
  const FilterRules filter;
  EXPECT_TRUE(filter.empty());
  EXPECT_FALSE(filter.excluded("a", kFile));
  EXPECT_FALSE(filter.excluded("a/b/c", kDir));
}

TEST(FilterRules, FirstMatchWins) {
  ExpectPaths({"+ *.txt", "- *"}, {
                                      {"a.txt", kFile, false},
                                      {"d/a.txt", kFile, false},
                                      {"b.o", kFile, true},
                                      {"d", kDir, true},
                                  });
  ExpectPaths({"- *", "+ *.txt"}, {
                                      {"a.txt", kFile, true},
                                      {"b.o", kFile, true},
                                  });
  // An include ahead of a broader exclude keeps the file.
  ExpectPaths({"+ important.log", "- *.log"}, {
                                                  {"important.log", kFile, false},
                                                  {"a/important.log", kFile, false},
                                                  {"other.log", kFile, true},
                                                  {"notes.txt", kFile, false},
                                              });
  // The classic "only *.c, but keep walking directories" idiom.
  ExpectPaths({"+ */", "+ *.c", "- *"}, {
                                            {"src", kDir, false},
                                            {"src/a.c", kFile, false},
                                            {"src/a.h", kFile, true},
                                            {"x.c", kDir, false},
                                        });
  // No rule matches: included.
  ExpectPaths({"- *.o", "- tmp/"}, {
                                       {"a.c", kFile, false},
                                       {"tmp", kFile, false},
                                   });
}

TEST(FilterRules, PrefixesOverrideKind) {
  FilterRules filter;
  filter.add(Kind::include, "- *.o");
  filter.add(Kind::exclude, "+ keep.tmp");
  filter.add(Kind::exclude, "*.tmp");
  filter.add(Kind::include, "*.c");
  filter.add(Kind::exclude, "*");
  EXPECT_TRUE(filter.excluded("a.o", kFile));
  EXPECT_FALSE(filter.excluded("keep.tmp", kFile));
  EXPECT_TRUE(filter.excluded("other.tmp", kFile));
  EXPECT_FALSE(filter.excluded("main.c", kFile));
  EXPECT_TRUE(filter.excluded("main.h", kFile));

  // Only "+ " and "- " (with the space) are prefixes; the rest is the pattern, verbatim.
  ExpectMatches({
      {"+foo", "+foo", kFile, true},
      {"+foo", "foo", kFile, false},
      {"-foo", "-foo", kFile, true},
      {"-  x", " x", kFile, true},
      {"-  x", "x", kFile, false},
      {"- - x", "- x", kFile, true},
      {"- + x", "+ x", kFile, true},
      {"- !", "!", kFile, true},
  });
  FilterRules include_dash;
  include_dash.add(Kind::exclude, "+ - x");
  include_dash.add(Kind::exclude, "*");
  EXPECT_FALSE(include_dash.excluded("- x", kFile));
  EXPECT_TRUE(include_dash.excluded("x", kFile));
}

TEST(FilterRules, BangClearsTheList) {
  FilterRules filter;
  filter.add(Kind::exclude, "*.o");
  filter.add(Kind::include, "!");
  EXPECT_TRUE(filter.empty());
  filter.add(Kind::exclude, "*.c");
  EXPECT_FALSE(filter.excluded("a.o", kFile));
  EXPECT_TRUE(filter.excluded("a.c", kFile));

  // Only a lone "!" clears; anything longer is a pattern.
  ExpectMatches({
      {"!foo", "!foo", kFile, true},
      {"!foo", "foo", kFile, false},
      {"!*", "!x", kFile, true},
      {"!*", "x", kFile, false},
  });
}

TEST(FilterRules, EmptyPatternsAreIgnored) {
  FilterRules filter;
  filter.add(Kind::exclude, "");
  filter.add(Kind::exclude, "- ");
  filter.add(Kind::include, "+ ");
  EXPECT_TRUE(filter.empty());
}

TEST(FilterRules, PatternWithoutSlashMatchesFinalComponent) {
  ExpectMatches({
      {"foo", "foo", kFile, true},
      {"foo", "a/foo", kFile, true},
      {"foo", "a/b/foo", kDir, true},
      {"foo", "foo/bar", kFile, false},
      {"foo", "afoo", kFile, false},
      {"foo", "foox", kFile, false},
      {"foo", "a/foox", kFile, false},
      {"*.o", "x.o", kFile, true},
      {"*.o", "a/b/x.o", kFile, true},
      {"*.o", ".o", kFile, true},
      {"*.o", "x.o/y", kFile, false},
      {"*", "a/b/c", kFile, true},
      {"a*", "b/abc", kFile, true},
      {"a*", "abc/b", kFile, false},
  });
}

TEST(FilterRules, TrailingSlashMatchesDirectoriesOnly) {
  ExpectMatches({
      {"build/", "build", kDir, true},
      {"build/", "build", kFile, false},
      {"build/", "src/build", kDir, true},
      {"build/", "src/build", kFile, false},
      {"build/", "build/x", kFile, false},
      {"*.d/", "x.d", kDir, true},
      {"*.d/", "x.d", kFile, false},
      {"/build/", "build", kDir, true},
      {"/build/", "a/build", kDir, false},
      {"a/b/", "x/a/b", kDir, true},
      {"a/b/", "x/a/b", kFile, false},
      {"a/**/", "a/b/c", kDir, true},
      {"a/**/", "a/b/c", kFile, false},
  });
}

TEST(FilterRules, LeadingSlashAnchorsToTransferRoot) {
  ExpectMatches({
      {"/foo", "foo", kFile, true},
      {"/foo", "a/foo", kFile, false},
      {"/foo", "foo/x", kFile, false},
      {"/a/b", "a/b", kFile, true},
      {"/a/b", "x/a/b", kFile, false},
      {"/a/*", "a/x", kFile, true},
      {"/a/*", "a/x/y", kFile, false},
      {"/*.txt", "r.txt", kFile, true},
      {"/*.txt", "d/r.txt", kFile, false},
      {"/a?c", "a/c", kFile, false},
      {"/a*c", "a/c", kFile, false},
      {"/a**c", "a/c", kFile, true},
      // A lone "/" is an anchored empty pattern: it matches nothing.
      {"/", "a", kFile, false},
      {"/", "a", kDir, false},
  });
}

TEST(FilterRules, InnerSlashMatchesTrailingComponents) {
  ExpectMatches({
      {"b/c", "b/c", kFile, true},
      {"b/c", "a/b/c", kFile, true},
      {"b/c", "x/y/b/c", kDir, true},
      {"b/c", "ab/c", kFile, false},
      {"b/c", "b/c/d", kFile, false},
      {"b/c", "c", kFile, false},
      {"a/*/c", "a/b/c", kFile, true},
      {"a/*/c", "x/a/b/c", kFile, true},
      {"a/*/c", "a/b/b/c", kFile, false},
      {"*/c", "c", kFile, false},
      {"*/c", "b/c", kFile, true},
      {"*/c", "a/b/c", kFile, true},
      {"b/c*", "a/b/cde", kFile, true},
      {"b*/c", "a/bx/c", kFile, true},
      {"b*/c", "a/xb/c", kFile, false},
  });
}

TEST(FilterRules, DoubleStarCrossesComponents) {
  ExpectMatches({
      {"a/**/c", "a/b/c", kFile, true},
      {"a/**/c", "a/b/d/c", kFile, true},
      {"a/**/c", "x/a/b/c", kFile, true},
      // "**" only absorbs what lies between the two slashes, so "a/c" is not matched.
      {"a/**/c", "a/c", kFile, false},
      {"**/c", "c", kFile, true},
      {"**/c", "a/c", kFile, true},
      {"**/c", "a/b/c", kDir, true},
      {"**/c", "ac", kFile, false},
      {"**.o", "a/b/x.o", kFile, true},
      {"**.o", "x.o", kFile, true},
      {"a**", "a/b/c", kFile, true},
      {"a**", "x/ab", kFile, true},
      {"a**", "ba", kFile, false},
      {"a**", "b/xa", kFile, false},
      {"foo/**", "foo/a", kFile, true},
      {"foo/**", "foo/a/b", kFile, true},
      {"foo/**", "x/foo/a", kFile, true},
      {"foo/**", "foo", kDir, false},
      {"/a/**", "a/b/c", kFile, true},
      {"/a/**", "x/a/b", kFile, false},
      {"/a/**", "a", kDir, false},
      {"**", "a", kFile, true},
      {"**", "a/b", kDir, true},
      {"a/**b", "a/x/yb", kFile, true},
      {"/**/b", "b", kFile, false},
      {"/**/b", "a/b", kFile, true},
  });
}

TEST(FilterRules, TripleStarMatchesDirectoryAndContents) {
  ExpectMatches({
      {"dir/***", "dir", kDir, true},
      // The "dir" itself only matches when it is a directory.
      {"dir/***", "dir", kFile, false},
      {"dir/***", "dir/x", kFile, true},
      {"dir/***", "dir/x/y", kDir, true},
      {"dir/***", "a/dir/x", kFile, true},
      {"dir/***", "a/dir", kDir, true},
      {"dir/***", "dirx", kDir, false},
      {"dir/***", "dirx/y", kFile, false},
      {"/dir/***", "dir", kDir, true},
      {"/dir/***", "dir/a/b", kFile, true},
      {"/dir/***", "a/dir", kDir, false},
      {"a/*/***", "a/b", kDir, true},
      {"a/*/***", "a/b/c/d", kFile, true},
      {"a/*/***", "a", kDir, false},
  });
}

TEST(FilterRules, StarAndQuestionMarkStopAtSlash) {
  ExpectMatches({
      {"?.txt", "a.txt", kFile, true},
      {"?.txt", "ab.txt", kFile, false},
      {"?.txt", ".txt", kFile, false},
      {"a?c", "abc", kFile, true},
      {"a?c", "ac", kFile, false},
      {"*a*b*", "xaybz", kFile, true},
      {"*a*b*", "xbya", kFile, false},
      {"x/*", "x/a", kFile, true},
      {"x/*", "x/a/b", kFile, false},
      {"x/*/", "x/a", kDir, true},
      {"x/?", "x/a", kFile, true},
      {"x/?", "x/ab", kFile, false},
      {"*.tar.*", "a.tar.gz", kFile, true},
      {"***", "a/b", kFile, true},
  });
}

TEST(FilterRules, CharacterClasses) {
  ExpectMatches({
      {"[abc].txt", "a.txt", kFile, true},
      {"[abc].txt", "d.txt", kFile, false},
      {"[a-c]x", "bx", kFile, true},
      {"[a-c]x", "dx", kFile, false},
      {"[!a-c]x", "dx", kFile, true},
      {"[!a-c]x", "ax", kFile, false},
      {"[^a-c]x", "dx", kFile, true},
      {"[^a-c]x", "bx", kFile, false},
      {"[]]x", "]x", kFile, true},
      {"[]]x", "ax", kFile, false},
      {"[!]]x", "ax", kFile, true},
      {"[!]]x", "]x", kFile, false},
      {"[a-]x", "-x", kFile, true},
      {"[-a]x", "-x", kFile, true},
      {"[a-c-e]", "-", kFile, true},
      {"[a-c-e]", "d", kFile, false},
      {"[a-c-e]", "e", kFile, true},
      {"[[:digit:]]*", "1abc", kFile, true},
      {"[[:digit:]]*", "abc", kFile, false},
      {"[[:alpha:][:digit:]]", "a", kFile, true},
      {"[[:alpha:][:digit:]]", "5", kFile, true},
      {"[[:alpha:][:digit:]]", "_", kFile, false},
      {"[[:upper:]]*", "Readme", kFile, true},
      {"[[:upper:]]*", "readme", kFile, false},
      {"[[:space:]]*", " x", kFile, true},
      {"[![:punct:]]", "a", kFile, true},
      {"[![:punct:]]", ".", kFile, false},
      {"[[:xdigit:]][[:xdigit:]]", "fF", kFile, true},
      {"[[:xdigit:]][[:xdigit:]]", "fg", kFile, false},
      // "[:" without a closing ":]" is just a '[' and a ':' in the set.
      {"[[:a]", "[", kFile, true},
      {"[[:a]", ":", kFile, true},
      {"[[:a]", "b", kFile, false},
      // Malformed classes never match, not even literally.
      {"[[:bogus:]]", "b", kFile, false},
      {"[[:bogus:]]", "[[:bogus:]]", kFile, false},
      {"[abc", "a", kFile, false},
      {"[abc", "[abc", kFile, false},
      // A class never matches '/'.
      {"/a[/]b", "a/b", kFile, false},
      {"/a[!x]b", "a/b", kFile, false},
      {"[*]", "*", kFile, true},
      {"[*]", "a", kFile, false},
      {"[?]x", "?x", kFile, true},
      {"[?]x", "ax", kFile, false},
  });
}

TEST(FilterRules, BackslashEscapes) {
  ExpectMatches({
      {"\\*.txt", "*.txt", kFile, true},
      {"\\*.txt", "a.txt", kFile, false},
      {"a\\?", "a?", kFile, true},
      {"a\\?", "ab", kFile, false},
      {"\\[x]", "[x]", kFile, true},
      {"\\[x]", "x", kFile, false},
      {"\\a*", "abc", kFile, true},
      {"\\a*", "\\abc", kFile, false},
      {"[\\]]x", "]x", kFile, true},
      {"[a\\-z]", "-", kFile, true},
      {"[a\\-z]", "b", kFile, false},
      {"[\\!a]", "!", kFile, true},
      {"*\\\\*", "back\\slash", kFile, true},
      {"*\\\\*", "backslash", kFile, false},
      // A wildcard pattern ending in a lone backslash matches nothing.
      {"*foo\\", "foo\\", kFile, false},
      // Without wildcards a backslash is an ordinary character.
      {"back\\slash", "back\\slash", kFile, true},
      {"back\\slash", "backslash", kFile, false},
      {"foo\\", "foo\\", kFile, true},
      {"a\\b/c", "x/a\\b/c", kFile, true},
  });
}

TEST(FilterRules, UnusualNames) {
  ExpectMatches({
      {"sp ace.txt", "d/sp ace.txt", kFile, true},
      {"* *", "sp ace.txt", kFile, true},
      {"* *", "space.txt", kFile, false},
      {" lead", " lead", kFile, true},
      {" lead", "lead", kFile, false},
      {"trail ", "trail ", kFile, true},
      {"trail ", "trail", kFile, false},
      {"new\nline", "d/new\nline", kFile, true},
      {"new?line", "new\nline", kFile, true},
      {"*line", "new\nline", kFile, true},
      {"-dash", "-dash", kFile, true},
      {"--help", "d/--help", kFile, true},
      {"*\t*", "tab\there", kFile, true},
      {"\\[br\\].txt", "[br].txt", kFile, true},
      {"[[]br].txt", "[br].txt", kFile, true},
      {"star\\*", "star*", kFile, true},
      {"star\\*", "starx", kFile, false},
      {"caf\xc3\xa9*", "caf\xc3\xa9.txt", kFile, true},
      {"caf?", "caf\xc3\xa9", kFile, false},
      {"caf??", "caf\xc3\xa9", kFile, true},
  });
}

// Writes a temporary file and removes it again.
class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    std::string pattern = (fs::temp_directory_path() / "filter_test.XXXXXX").string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    path_ = pattern;
    std::ofstream(path_, std::ios::binary) << content;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { fs::remove(path_); }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "filter_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { fs::remove_all(path_); }

  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(FilterRules, AddFromFileParsesLines) {
  const TempFile file(
      "# a comment\n"
      "; another comment\n"
      "\n"
      "*.o\r\n"
      "+ keep.log\r\n"
      "*.log\n"
      "  spaced\n"
      " # not a comment\n"
      "/abs\r"
      "tmp/\r\n"
      "\r\n"
      "last");
  FilterRules filter;
  filter.add_from_file(Kind::exclude, file.path());
  const std::vector<PathCase> cases = {
      {"a.o", kFile, true},
      {"keep.log", kFile, false},
      {"x.log", kFile, true},
      {"x.log\r", kFile, false},
      {"  spaced", kFile, true},
      {"spaced", kFile, false},
      {" # not a comment", kFile, true},
      {"# a comment", kFile, false},
      {"abs", kFile, true},
      {"d/abs", kFile, false},
      {"tmp", kDir, true},
      {"tmp", kFile, false},
      {"last", kFile, true},
      {"other", kFile, false},
  };
  for (const PathCase& c : cases)
    EXPECT_EQ(filter.excluded(c.path, c.is_dir), c.excluded) << Describe(c);
}

TEST(FilterRules, AddFromFileUsesKindUnlessPrefixed) {
  const TempFile file("*.c\n- *.h\n");
  FilterRules filter;
  filter.add_from_file(Kind::include, file.path());
  filter.add(Kind::exclude, "*");
  EXPECT_FALSE(filter.excluded("a.c", kFile));
  EXPECT_TRUE(filter.excluded("a.h", kFile));
  EXPECT_TRUE(filter.excluded("a.txt", kFile));
}

TEST(FilterRules, AddFromFileBangClears) {
  const TempFile file("*.o\n!\n*.c\n");
  FilterRules filter;
  filter.add(Kind::exclude, "*.h");
  filter.add_from_file(Kind::exclude, file.path());
  EXPECT_FALSE(filter.excluded("a.h", kFile));
  EXPECT_FALSE(filter.excluded("a.o", kFile));
  EXPECT_TRUE(filter.excluded("a.c", kFile));
}

TEST(FilterRules, AddFromFileEmptyAndCommentOnly) {
  const TempFile empty("");
  const TempFile comments("# x\n;y\n\n\r\n");
  FilterRules filter;
  filter.add_from_file(Kind::exclude, empty.path());
  filter.add_from_file(Kind::exclude, comments.path());
  EXPECT_TRUE(filter.empty());
}

TEST(FilterRules, AddFromFileDashReadsStdin) {
  const TempFile file("*.o\n");
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  const int fd = ::open(file.path().c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::dup2(fd, STDIN_FILENO), STDIN_FILENO);
  ::close(fd);
  FilterRules filter;
  filter.add_from_file(Kind::exclude, "-");
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  EXPECT_TRUE(filter.excluded("x.o", kFile));
  EXPECT_FALSE(filter.excluded("x.c", kFile));
}

std::string ErrorOf(const std::string& file) {
  FilterRules filter;
  try {
    filter.add_from_file(Kind::exclude, file);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(FilterRules, AddFromFileReportsErrors) {
  const TempDir dir;
  const std::string missing = (dir.path() / "missing").string();
  EXPECT_EQ(ErrorOf(missing),
            "cannot read filter file \"" + missing + "\": No such file or directory");
  EXPECT_EQ(ErrorOf(dir.path().string()),
            "cannot read filter file \"" + dir.path().string() + "\": Is a directory");
}

// --- Differential test against the real rsync ------------------------------------------

constexpr const char* kRsync = "/usr/bin/rsync";

struct RuleArg {
  Kind kind;
  std::string pattern;
};

// Runs `args` and returns its stdout; fails the test unless it exits with status 0.
std::string Run(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipe_fds[0]);
  if (rc != 0) throw std::runtime_error("cannot run " + args[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "rsync failed: " << out;
  return out;
}

// rsync prints unprintable bytes of names as "\#ooo" (octal).
std::string DecodeRsyncName(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 4 < s.size() && s[i + 1] == '#') {
      out += static_cast<char>((s[i + 2] - '0') * 64 + (s[i + 3] - '0') * 8 + (s[i + 4] - '0'));
      i += 4;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> RuleOptions(const std::vector<RuleArg>& rules) {
  std::vector<std::string> options;
  for (const RuleArg& rule : rules) {
    options.push_back((rule.kind == Kind::include ? "--include=" : "--exclude=") + rule.pattern);
  }
  return options;
}

// Paths rsync would transfer from root/src, given its filter options; directories carry a
// trailing '/'.
std::set<std::string> RsyncTransfers(const fs::path& root,
                                     const std::vector<std::string>& filter_options) {
  std::vector<std::string> args = {kRsync, "-r", "--dry-run", "--out-format=%n"};
  args.insert(args.end(), filter_options.begin(), filter_options.end());
  args.push_back((root / "src").string() + "/");
  args.push_back((root / "dst").string() + "/");
  std::set<std::string> names;
  const std::string output = Run(args);
  std::string_view out = output;
  while (!out.empty()) {
    const std::size_t eol = out.find('\n');
    const std::string_view line = out.substr(0, eol);
    out.remove_prefix(eol == std::string_view::npos ? out.size() : eol + 1);
    if (line != "./") names.insert(DecodeRsyncName(line));
  }
  return names;
}

// Walks like rsync -r: an excluded directory's contents are never looked at.
void Walk(const fs::path& dir, const std::string& prefix, const FilterRules& filter,
          std::set<std::string>& names) {
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string rel = prefix + entry.path().filename().string();
    const bool is_dir = entry.is_directory();
    if (filter.excluded(rel, is_dir)) continue;
    names.insert(is_dir ? rel + "/" : rel);
    if (is_dir) Walk(entry.path(), rel + "/", filter, names);
  }
}

std::set<std::string> OurTransfers(const fs::path& root, const FilterRules& filter) {
  std::set<std::string> names;
  Walk(root / "src", "", filter, names);
  return names;
}

void BuildTree(const fs::path& src) {
  const std::vector<std::string> dirs = {
      "a/b",   "x/a/b",    "ab",   "build", "src/build", "deep/1/2/3", "dir",        "dir.d",
      "empty", "a/dir/in", "keep", "[br]",  "sp ce",     "-d",         "x/dir/deep",
  };
  const std::vector<std::string> files = {
      "a/b/c.txt",
      "a/b/d.log",
      "a/x.txt",
      "a/c",
      "ab/c",
      "b",
      "build/out.o",
      "src/main.c",
      "src/main.h",
      "src/build/gen.c",
      "x/a/b/c.txt",
      "x/a/c",
      "deep/1/2/3/f.txt",
      "deep/1/g.c",
      "dir/f",
      "dir.d/g",
      "keep/important.log",
      "keep/other.log",
      "Makefile",
      "README",
      "tmp~",
      ".hidden",
      "sp ace.txt",
      "-dash",
      "[br].txt",
      "[br]/in",
      "star*.txt",
      "q?.txt",
      "back\\slash",
      "new\nline",
      "tab\there",
      "1digit",
      "a/dir/in/f",
      "dir2",
      "- x",
      "sp ce/ f",
      "-d/-e",
      "x/dir/deep/z",
      "foo\\",
      "caf\xc3\xa9",
      "c.txt",
  };
  for (const std::string& d : dirs) fs::create_directories(src / d);
  for (const std::string& f : files) std::ofstream(src / f) << "x";
}

TEST(FilterRules, MatchesRealRsync) {
  if (!fs::exists(kRsync)) GTEST_SKIP() << kRsync << " is not installed";
  const TempDir tmp;
  BuildTree(tmp.path() / "src");

  const Kind inc = Kind::include;
  const Kind exc = Kind::exclude;
  const std::vector<std::vector<RuleArg>> cases = {
      {},
      {{exc, "*"}},
      {{exc, "*.txt"}},
      {{exc, "c"}},
      {{exc, "b"}},
      {{exc, "b/"}},
      {{exc, "/b"}},
      {{exc, "/a"}},
      {{exc, "/a/b"}},
      {{exc, "a/b"}},
      {{exc, "b/c*"}},
      {{exc, "a/c"}},
      {{exc, "*/c"}},
      {{exc, "a/**/c.txt"}},
      {{exc, "a/**/c"}},
      {{exc, "a/**"}},
      {{exc, "**/c.txt"}},
      {{exc, "**/b"}},
      {{exc, "**/Makefile"}},
      {{exc, "**/b/"}},
      {{exc, "**.txt"}},
      {{exc, "/**/b"}},
      {{exc, "a**"}},
      {{exc, "dir/***"}},
      {{exc, "/dir/***"}},
      {{inc, "dir/***"}, {exc, "*"}},
      {{inc, "/a/***"}, {exc, "*"}},
      {{inc, "*/"}, {inc, "*.c"}, {exc, "*"}},
      {{inc, "*/"}, {inc, "*.txt"}, {exc, "*"}},
      {{exc, "*"}, {inc, "*/"}},
      {{inc, "keep/important.log"}, {exc, "*.log"}},
      {{exc, "*.log"}, {inc, "important.log"}},
      {{exc, "- *.o"}, {exc, "+ build/"}, {exc, "build"}},
      {{inc, "- *.c"}},
      {{exc, "build"}, {exc, "!"}, {exc, "*.h"}},
      {{exc, "dir*"}},
      {{exc, "dir*/"}},
      {{exc, "?"}},
      {{exc, "??"}},
      {{exc, "[a-c]"}},
      {{exc, "[!a-c]*"}},
      {{exc, "[^.]*"}},
      {{exc, "[[:digit:]]*"}},
      {{exc, "[[:upper:]]*"}},
      {{exc, "[]br[]*"}},
      {{exc, "[br"}},
      {{exc, "[br]"}},
      {{exc, "\\[br\\]*"}},
      {{exc, "[[]br]"}},
      {{exc, "star\\*.txt"}},
      {{exc, "q\\?.txt"}},
      {{exc, "*\\\\*"}},
      {{exc, "back\\slash"}},
      {{exc, "foo\\"}},
      {{exc, "*foo\\"}},
      {{exc, "sp ace.txt"}},
      {{exc, "* *"}},
      {{exc, "sp ce/"}},
      {{exc, "new\nline"}},
      {{exc, "new?line"}},
      {{exc, "*\t*"}},
      {{exc, "-dash"}},
      {{exc, "- -d"}},
      {{exc, "- - x"}},
      {{exc, "-*"}},
      {{exc, ".*"}},
      {{exc, "*~"}},
      {{exc, "/"}},
      {{exc, "deep/*/2"}},
      {{exc, "deep/**/f.txt"}},
      {{exc, "1/**"}},
      {{exc, "caf?"}},
      {{exc, "caf??"}},
      {{exc, "[[:alpha:]][[:alpha:]][[:alpha:]][![:alpha:]]*"}},
  };
  for (const std::vector<RuleArg>& rules : cases) {
    FilterRules filter;
    for (const RuleArg& rule : rules) filter.add(rule.kind, rule.pattern);
    const std::vector<std::string> options = RuleOptions(rules);
    std::string text;
    for (const std::string& option : options) text += "[" + option + "] ";
    EXPECT_EQ(OurTransfers(tmp.path(), filter), RsyncTransfers(tmp.path(), options)) << text;
  }
}

TEST(FilterRules, FileRulesMatchRealRsync) {
  if (!fs::exists(kRsync)) GTEST_SKIP() << kRsync << " is not installed";
  const TempDir tmp;
  BuildTree(tmp.path() / "src");
  const TempFile file(
      "# comment\r\n"
      "+ keep/\r\n"
      "+ important.log\r"
      "- *.log\n"
      "; another\n"
      "\n"
      "*.txt\n"
      "- b/\n"
      "/build/***\n");

  FilterRules filter;
  filter.add_from_file(Kind::exclude, file.path());
  filter.add(Kind::exclude, "*.c");
  EXPECT_EQ(OurTransfers(tmp.path(), filter),
            RsyncTransfers(tmp.path(), {"--exclude-from=" + file.path(), "--exclude=*.c"}));
}

// Cases settled by running /usr/bin/rsync on them.
TEST(FilterRules, BracketCornerCases) {
  ExpectMatches({
      // A reversed range holds just its first byte.
      {"[c-a]", "c", kFile, true},
      {"[c-a]", "b", kFile, false},
      {"[c-a]", "a", kFile, false},
      {"[!c-a]", "b", kFile, true},
      {"[!c-a]", "c", kFile, false},
      // "[:" names a class only when the first ']' after it follows a ':'.
      {"[[:]]", ":]", kFile, true},
      {"[[:]]", "[]", kFile, true},
      {"[[:alpha\\]:]]", ":]", kFile, true},
      {"[[:alpha\\]:]]", "]]", kFile, true},
      {"[[:alpha:][:x]]", "b]", kFile, true},
      {"[[:alpha:][:x]]", "x]", kFile, true},
      {"[[:alpha:][:x]]", "1]", kFile, false},
      // ... and then an unknown or empty name spoils the pattern.
      {"[[:al-pha:]]", ":]", kFile, false},
      {"[[:al-pha:]]", "a", kFile, false},
      {"[[::]]", ":]", kFile, false},
      // A '/' in brackets still counts as a '/' of the pattern: without "**" the pattern
      // then spans more components than its brackets can ever match.
      {"[/*]", "*", kFile, false},
      {"[/*]", "a/*", kFile, false},
      {"[/**]", "*", kFile, true},
      {"[/**]", "q/*", kFile, true},
      {"[/**]", "q", kFile, false},
  });
}

TEST(FilterRules, TripleStarCornerCases) {
  ExpectMatches({
      {"dir/****", "dir", kDir, true},
      {"dir/****", "d/dir", kDir, true},
      {"dir/****", "d/dir", kFile, false},
      {"dir/****", "d/dir/x", kFile, true},
      // An escaped '/' is still a '/'.
      {"dir\\/***", "d/dir", kDir, true},
      // "\\***" is a '*' and then "**": not a "/***" ending.
      {"dir/\\***", "dir", kDir, false},
      {"dir/\\***", "dir/*x", kFile, true},
      {"dir/\\***", "dir/x", kFile, false},
      {"**/dir/***", "dir", kDir, true},
      {"**/dir/***", "a/b/dir", kDir, true},
      {"**/dir/***", "a/b/dir/c", kFile, true},
      {"**/dir/***", "a/bdir", kDir, false},
  });
}

// A matcher that tries every way to split the text: exponential, but plainly right.
bool NaiveMatch(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern[0] == '*') {
    const std::size_t stars = std::min(pattern.find_first_not_of('*'), pattern.size());
    for (std::size_t taken = 0; taken <= text.size(); ++taken) {
      if (NaiveMatch(pattern.substr(stars), text.substr(taken))) return true;
      if (taken < text.size() && stars == 1 && text[taken] == '/') return false;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern[0] == '?') return text[0] != '/' && NaiveMatch(pattern.substr(1), text.substr(1));
  if (pattern.starts_with("[ab]")) {
    return (text[0] == 'a' || text[0] == 'b') && NaiveMatch(pattern.substr(4), text.substr(1));
  }
  return pattern[0] == text[0] && NaiveMatch(pattern.substr(1), text.substr(1));
}

TEST(FilterRules, AgreesWithNaiveMatcher) {
  std::mt19937 random(20240601);
  const std::vector<std::string> pieces = {"a", "b", "/", "*", "**", "***", "?", "[ab]"};
  const std::string letters = "ab/";
  for (int round = 0; round < 20000; ++round) {
    std::string pattern;
    for (std::size_t n = 1 + random() % 8; n > 0; --n) pattern += pieces[random() % pieces.size()];
    if (pattern.back() == '/') pattern += 'a';
    std::string path;
    for (std::size_t n = 1 + random() % 10; n > 0; --n) path += letters[random() % letters.size()];
    // Anchored, so that the pattern has to match the whole path.
    FilterRules filter;
    filter.add(Kind::exclude, "/" + pattern);
    ASSERT_EQ(filter.excluded(path, kFile), NaiveMatch(pattern, path))
        << "pattern \"/" << pattern << "\" path \"" << path << "\"";
  }
}

TEST(FilterRules, PathologicalPatternsAreFast) {
  const std::string name(5000, 'a');
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += std::string(200, 'a') + "/";
  deep += "aaaa";
  const std::vector<std::string> patterns = {
      "*a*a*a*a*a*a*a*a*b", "**a*a*a*a*a*a*a*a*b",          "**a**a**a**a**a**a**a**b",
      "a**a*a*a*a*a*b**c",  "/**a*a*a*a*a*a*b**c",          "**/*a*a*a*a*a*a*a*a*a*a*b/*",
      "/***a*/*//**aa**",   "a*a/**/*a*a*a*a*b/**/a*a*a*c",
  };
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& pattern : patterns) {
    FilterRules filter;
    filter.add(Kind::exclude, pattern);
    EXPECT_FALSE(filter.excluded(name, kFile)) << pattern;
    EXPECT_FALSE(filter.excluded(deep, kDir)) << pattern;
    EXPECT_TRUE(filter.excluded(name + "b", kFile) || pattern.find('c') != std::string::npos ||
                pattern.find('/') != std::string::npos)
        << pattern;
  }
  // Each of these takes microseconds; a search that backtracks blindly takes ages.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(FilterRules, CornerCasesMatchRealRsync) {
  if (!fs::exists(kRsync)) GTEST_SKIP() << kRsync << " is not installed";
  const TempDir tmp;
  BuildTree(tmp.path() / "src");
  const std::vector<std::string> patterns = {
      "[/*]",         "[/**]",           "dir/****", "dir\\/***",     "dir/\\***",
      "**/dir/***",   "x/**/***",        "[d-a]*",   "[]b-a]*",       "[[:]]*",
      "[[:al-pha:]]", "[[:alpha\\]:]]*", "**/in/**", "a/**/***",      "**[.]txt",
      "*/**/c*",      "/*/**/f",         "d*/**/",   "[[:punct:]]*/", "**/",
  };
  for (const std::string& pattern : patterns) {
    FilterRules filter;
    filter.add(Kind::exclude, pattern);
    EXPECT_EQ(OurTransfers(tmp.path(), filter),
              RsyncTransfers(tmp.path(), {"--exclude=" + pattern}))
        << pattern;
  }
}

}  // namespace
}  // namespace arsync::fsio
