#include "fieldbook/core/env.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstring>
#include <random>

namespace fieldbook {

uint64_t Env::Random64() {
  uint8_t bytes[8];
  RandomBytes(bytes, sizeof bytes);
  uint64_t v = 0;
  std::memcpy(&v, bytes, sizeof v);
  return v;
}

namespace {

class SystemEnvImpl final : public Env {
 public:
  int64_t NowMs() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  void RandomBytes(uint8_t* out, size_t n) override {
    if (RAND_bytes(out, static_cast<int>(n)) == 1) return;
    // OpenSSL's generator failed (no entropy source): fall back to the OS device.
    std::random_device rd;
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(rd());
  }
};

}  // namespace

Env& SystemEnv() {
  static SystemEnvImpl env;
  return env;
}

}  // namespace fieldbook
