// A rapidjson output stream appending to a std::string, for large JSON documents (the
// per-customer reports, and the service calendar's hand-written text around it): the
// text is written once into the string the caller returns, not built in a buffer and
// copied. The writer reserves room for each value and then puts its characters unchecked
// (PutReserve / PutUnsafe below, found by argument-dependent lookup): a push_back per
// character cost a quarter of the service calendar when it was written that way.
#pragma once

#include <rapidjson/writer.h>

#include <algorithm>
#include <cstddef>
#include <string>

namespace fieldbook {

struct StringOutput {
  using Ch = char;
  explicit StringOutput(std::string& s) : out(s), len(s.size()) {}
  // Grows the string in steps that stay within its capacity while they can: resizing
  // zero-fills, and touching the whole reservation at once costs page faults for room
  // the output may never use.
  void Reserve(size_t n) {
    if (len + n <= out.size()) return;
    constexpr size_t kStep = 64 * 1024;
    out.resize(std::max(len + n, out.size() + kStep));  // past capacity, the string doubles it
  }
  void Put(char c) {
    Reserve(1);
    out[len++] = c;
  }
  void Flush() {}
  // Cuts the string to what was written.
  void Finish() { out.resize(len); }
  std::string& out;
  size_t len;
};
inline void PutReserve(StringOutput& s, size_t n) { s.Reserve(n); }
inline void PutUnsafe(StringOutput& s, char c) { s.out[s.len++] = c; }

using StringJsonWriter = rapidjson::Writer<StringOutput>;

}  // namespace fieldbook
