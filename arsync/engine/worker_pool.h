// Tasks run on a TBB arena of their own. Tasks submitted from threads outside TBB (the
// channel's reader threads) would otherwise land in the implicit arena, whose size is the
// core count with a slot kept for each such thread: on a small machine one worker ended up
// running every copy.
#pragma once

#include <algorithm>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

namespace arsync::engine {

class WorkerPool {
 public:
  // System calls, not arithmetic, dominate the work: more threads than cores keep the cores
  // busy while some threads wait in the kernel.
  static int default_threads() {
    return static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
  }

  explicit WorkerPool(int threads = default_threads()) : arena_(threads, 0) {
    // TBB's default worker count is the core count less one; raise it once per process
    // so that the arenas can fill.
    static tbb::global_control workers(tbb::global_control::max_allowed_parallelism,
                                       2 * static_cast<size_t>(default_threads()));
  }
  // Tasks report their own errors; one that throws is a bug, and terminates here.
  ~WorkerPool() noexcept { wait(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  template <typename Fn>
  void run(Fn&& fn) {
    arena_.execute([&] { group_.run(std::forward<Fn>(fn)); });
  }

  void wait() {
    arena_.execute([&] { group_.wait(); });
  }

  // fn(i) for i in [0, count), spread over the pool; returns when all are done.
  template <typename Fn>
  void for_each(size_t count, const Fn& fn, size_t grain = 8) {
    arena_.execute([&] {
      tbb::parallel_for(tbb::blocked_range<size_t>(0, count, grain), [&](const auto& range) {
        for (size_t i = range.begin(); i != range.end(); ++i) fn(i);
      });
    });
  }

 private:
  tbb::task_arena arena_;
  tbb::task_group group_;
};

}  // namespace arsync::engine
