#include "arsync/cli/progress_meter.h"

#include <cinttypes>

#include "arsync/cli/summary.h"

namespace arsync::cli {

namespace {
constexpr std::chrono::milliseconds kInterval(500);
}  // namespace

std::string format_progress(const ProgressReading& reading, double elapsed_seconds) {
  double rate = elapsed_seconds > 0 ? static_cast<double>(reading.bytes) / elapsed_seconds : 0;
  const char* unit = "B/s";
  for (const char* next : {"kB/s", "MB/s", "GB/s", "TB/s"}) {
    if (rate < 1024) break;
    rate /= 1024;
    unit = next;
  }
  const auto seconds = static_cast<uint64_t>(elapsed_seconds);
  char line[160];
  std::snprintf(line, sizeof line, "%15s %7.2f%-4s %4" PRIu64 ":%02u:%02u (files %s)",
                grouped(reading.bytes).c_str(), rate, unit, seconds / 3600,
                static_cast<unsigned>(seconds / 60 % 60), static_cast<unsigned>(seconds % 60),
                grouped(reading.files).c_str());
  return line;
}

ProgressMeter::ProgressMeter(FILE* out, Source source) : out_(out), source_(std::move(source)) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kInterval, [this] { return stopping_; })) show("");
  });
}

ProgressMeter::~ProgressMeter() {
  finish();
}

void ProgressMeter::finish() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  show("\n");
}

void ProgressMeter::show(const char* end) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(out_, "\r%s%s", format_progress(source_(), elapsed).c_str(), end);
  std::fflush(out_);
}

}  // namespace arsync::cli
