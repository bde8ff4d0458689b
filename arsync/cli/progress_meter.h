// --progress: one line on stdout, rewritten about twice a second, of what has landed at the
// destination so far: bytes, rate, elapsed time and files. Like rsync's --info=progress2
// rather than its per-file --progress, since files here travel many at a time and per-file
// lines would interleave.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace arsync::cli {

struct ProgressReading {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// "   1,048,576  12.34MB/s    0:00:01 (files 10)", the rate as rsync prints it.
std::string format_progress(const ProgressReading& reading, double elapsed_seconds);

class ProgressMeter {
 public:
  using Source = std::function<ProgressReading()>;
  ProgressMeter(FILE* out, Source source);
  // finish() if not done yet.
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // Stops the updates and prints the final line, ended by a newline.
  void finish();

 private:
  void show(const char* end);

  FILE* out_;
  Source source_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace arsync::cli
