// Words of command lines and answers: what -e, SSH_ORIGINAL_COMMAND and a yes/no prompt
// are made of.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace arsync::control {

// POSIX shell word splitting without expansions (quotes and backslashes only), as rsync
// does with -e. Throws std::invalid_argument for an unterminated quote or a trailing
// backslash.
std::vector<std::string> split_shell_words(const std::string& text);

std::string trimmed(std::string_view s);
std::string lowercase(std::string s);

}  // namespace arsync::control
