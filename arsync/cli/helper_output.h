// What the helper says beside the data: its report lines (shown as if this side had printed
// them, errors prefixed with the host), its per-file problems, and its progress (kept for
// --progress in a push, where what landed is counted over there).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "arsync/cli/progress_meter.h"
#include "control/session_messages.h"

namespace arsync::cli {

class HelperOutput {
 public:
  explicit HelperOutput(std::string host) : host_(std::move(host)) {}
  HelperOutput(const HelperOutput&) = delete;
  HelperOutput& operator=(const HelperOutput&) = delete;

  // Handlers for the session; they refer to this object, which must outlive them.
  control::PeerMessages handlers();
  // The files and bytes the helper last said had landed.
  ProgressReading landed() const { return {files_, bytes_}; }

 private:
  void show_line(bool is_error, std::string_view line) const;
  void take_message(std::string_view json_text);  // throws ProtocolError

  std::string host_;
  std::atomic<uint64_t> files_{0};
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace arsync::cli
