// Env: the clock and randomness a Store uses, injectable so the deterministic sync
// simulation can drive many devices from one seed (LevelDB's Env plays this role).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace fieldbook {

class Env {
 public:
  virtual ~Env() = default;
  // UTC milliseconds since the Unix epoch.
  virtual int64_t NowMs() = 0;
  // Fills out with unpredictable bytes (ids, site ids, batch ids).
  virtual void RandomBytes(uint8_t* out, size_t n) = 0;

  uint64_t Random64();
};

// The real clock and a cryptographic random source. Stateless and thread-safe.
Env& SystemEnv();

}  // namespace fieldbook
