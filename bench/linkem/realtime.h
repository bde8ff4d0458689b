// Real-time scheduling for the forwarding threads. On 2 shared cores an ordinary thread waits
// behind whatever else runs (the TCP stacks of both ends, ssh, rsync), and that wait shows up
// as extra, random delay on the emulated link; a SCHED_FIFO thread preempts them.
#pragma once

#include <string>

namespace arsync::linkem {

// Makes the calling thread SCHED_FIFO at `priority` (0: leave the policy alone) and sets its
// timer slack to 1 ns, so that timed sleeps end when asked rather than up to 50 us later.
// Returns "" or why the policy could not be set; the thread runs on either way.
std::string make_thread_realtime(int priority);

}  // namespace arsync::linkem
