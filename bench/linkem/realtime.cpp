#include "bench/linkem/realtime.h"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <cstring>

namespace arsync::linkem {

std::string make_thread_realtime(int priority) {
  // The default slack of 50 us would alone use half of the 0.1 ms release accuracy.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  if (priority <= 0) return "";
  sched_param param{};
  param.sched_priority = priority;
  const int error = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param);
  if (error != 0)
    return std::string("SCHED_FIFO priority ") + std::to_string(priority) + ": " +
           std::strerror(error);
  return "";
}

}  // namespace arsync::linkem
