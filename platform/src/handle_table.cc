#include "handle_table.h"

#include <atomic>

namespace fieldbook::platform {

uintptr_t NextHandleValue() {
  static std::atomic<uintptr_t> next{0x10000};
  return next.fetch_add(16);
}

}  // namespace fieldbook::platform
