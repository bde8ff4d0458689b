#include "arsync/cli/helper_output.h"

#include <cstdio>
#include <string>
#include <variant>

namespace arsync::cli {

control::PeerMessages HelperOutput::handlers() {
  return {[this](bool is_error, std::string_view line) { show_line(is_error, line); },
          [this](std::string_view text) { take_message(text); }};
}

void HelperOutput::show_line(bool is_error, std::string_view line) const {
  std::string text(line);
  if (is_error) {
    std::fprintf(stderr, "%s: %s\n", host_.c_str(), text.c_str());
  } else {
    std::fprintf(stdout, "%s\n", text.c_str());
  }
}

void HelperOutput::take_message(std::string_view json_text) {
  auto message = control::parse_data_phase_message(json_text);
  if (auto* problem = std::get_if<control::FileProblem>(&message)) {
    std::fprintf(stderr, "%s: %s\n", host_.c_str(), problem->message.c_str());
    return;
  }
  const auto& progress = std::get<control::Progress>(message);
  files_ = progress.files;
  bytes_ = progress.bytes;
}

}  // namespace arsync::cli
