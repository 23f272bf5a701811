// Hybrid logical clock: 48 bits of UTC milliseconds and a 16-bit counter in one
// int64. Stamps from one site strictly increase, survive restarts (the last stamp is
// persisted in fb_sync_state) and are ratcheted past every stamp the site receives, so a
// write made after seeing another always orders after it.
#pragma once

#include <cstdint>
#include <string>

namespace fieldbook::sync {

using Hlc = int64_t;

inline constexpr int64_t HlcMs(Hlc h) { return h >> 16; }
inline constexpr int64_t HlcCounter(Hlc h) { return h & 0xffff; }
inline constexpr Hlc MakeHlc(int64_t ms, int64_t counter = 0) { return (ms << 16) | (counter & 0xffff); }
// The stamp after `last` at wall time `now_ms`.
inline constexpr Hlc NextHlc(Hlc last, int64_t now_ms) {
  const Hlc wall = MakeHlc(now_ms);
  return wall > last ? wall : last + 1;
}

// Last-writer-wins order of two versions: higher hlc, then higher site id.
inline bool VersionNewer(Hlc a_hlc, const std::string& a_site, Hlc b_hlc, const std::string& b_site) {
  return a_hlc != b_hlc ? a_hlc > b_hlc : a_site > b_site;
}

}  // namespace fieldbook::sync
