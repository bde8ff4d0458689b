// Set when the user interrupts the run: workers stop between chunks and remove their
// temporary files, so an interrupted run leaves nothing half-written.
#pragma once

#include <atomic>

namespace arsync::engine {

std::atomic<bool>& cancel_flag();
inline bool cancelled() {
  return cancel_flag().load(std::memory_order_relaxed);
}

}  // namespace arsync::engine
