// Reading the names in a directory.
#pragma once

#include <string>
#include <vector>

namespace arsync::fsio {

// Appends the names in dir_fd (without "." and "..") to `names`; dir_fd itself stays open
// and unmoved. Returns 0 or an errno value.
int list_names(int dir_fd, std::vector<std::string>& names);

}  // namespace arsync::fsio
