#include "arsync/engine/cancel.h"

namespace arsync::engine {

std::atomic<bool>& cancel_flag() {
  static std::atomic<bool> flag{false};
  return flag;
}

}  // namespace arsync::engine
