// Checks on paths that name something beneath a root. Every path that reaches the receiver
// is treated as if a hostile peer wrote it.
#pragma once

#include <string>
#include <string_view>

namespace arsync::fsio {

inline constexpr size_t kMaxPathLength = 4095;
inline constexpr size_t kMaxNameLength = 255;

// True for "a", "a/b/c": relative, no empty, "." or ".." component, no NUL, bounded length.
bool is_safe_relative_path(std::string_view path);

// The final component of a '/'-separated path ("a/b" -> "b", "a" -> "a").
std::string_view leaf_name(std::string_view path);

// The directory part ("a/b" -> "a", "a" -> "").
std::string_view parent_path(std::string_view path);

// "" + "x" -> "x"; "a" + "x" -> "a/x".
std::string join_path(std::string_view dir, std::string_view name);

}  // namespace arsync::fsio
