// Catch2 main plus a listener that fails any test leaving a Store open (as LiteCore's
// fixture fails a test that leaks objects). ctest runs each test case in its own
// process, so exiting non-zero marks exactly the leaking test as failed.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>

#include "fieldbook/core/store.h"

namespace {

struct LeakListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    const auto live = fieldbook::Store::LiveCount();
    if (live != 0) {
      std::fprintf(stderr, "LEAK: test case \"%s\" left %lld Store handle(s) open\n",
                   stats.testInfo.name.c_str(), static_cast<long long>(live));
      std::fflush(stderr);
      std::_Exit(3);
    }
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(LeakListener)

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }
