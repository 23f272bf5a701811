// Row numbers by text id, for reports and the calendar that read whole tables once and
// join them in memory. Open addressing over (hash, row) pairs: a lookup touches one slot
// and the id it names, and no lookup builds a string.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/store.h"
#include "prefault.h"

namespace fieldbook {

class IdIndex {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  void Reserve(size_t n) {
    ids_.reserve(n);
    PrefaultCapacity(ids_);
    text_.reserve(n * kTypicalIdBytes);
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    if (capacity > slots_.size()) Rehash(capacity);
  }
  // The row of `id`, added as the next row if it is new.
  uint32_t Add(std::string_view id) {
    const uint64_t h = Hash(id);
    if (const uint32_t found = Find(id, h); found != kNone) return found;
    if (2 * (ids_.size() + 1) > slots_.size()) Rehash(std::max<size_t>(16, 2 * slots_.size()));
    ids_.push_back(Ref{static_cast<uint32_t>(text_.size()), static_cast<uint32_t>(id.size())});
    text_.append(id);
    const auto row = static_cast<uint32_t>(ids_.size() - 1);
    Place(h, row);
    return row;
  }
  uint32_t Find(std::string_view id) const { return Find(id, Hash(id)); }
  // Valid until the next Add.
  std::string_view id(uint32_t row) const { return std::string_view(text_.data() + ids_[row].off, ids_[row].len); }
  size_t size() const { return ids_.size(); }

 private:
  // Eight bytes: the slot comes from the hash's low bits and `tag` keeps its high half, so
  // a lookup reads a string only on a likely match.
  struct Slot {
    uint32_t tag = 0;
    uint32_t row = kNone;
  };
  static uint32_t Tag(uint64_t h) { return static_cast<uint32_t>(h >> 32); }
  static uint64_t Hash(std::string_view s) {  // eight bytes a step, then a final mix
    uint64_t h = 0x9e3779b97f4a7c15ull ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t chunk;
      std::memcpy(&chunk, s.data() + i, 8);
      h = (h ^ chunk) * 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    uint64_t tail = 0;
    if (i < s.size()) std::memcpy(&tail, s.data() + i, s.size() - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
  }
  uint32_t Find(std::string_view id, uint64_t h) const {
    if (slots_.empty()) return kNone;
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.row == kNone) return kNone;
      if (s.tag == Tag(h) && this->id(s.row) == id) return s.row;
    }
  }
  void Place(uint64_t h, uint32_t row) {
    size_t i = h & (slots_.size() - 1);
    while (slots_[i].row != kNone) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = Slot{Tag(h), row};
  }
  void Rehash(size_t capacity) {
    std::vector<Slot> old = std::move(slots_);
    slots_.reserve(capacity);
    PrefaultCapacity(slots_);
    slots_.assign(capacity, Slot{});
    for (const Slot& s : old) {
      if (s.row != kNone) Place(Hash(id(s.row)), s.row);
    }
  }

  // The ids one after another in one string: a std::string each was an allocation and
  // ~80 bytes a row (UUIDs do not fit the small-string buffer).
  struct Ref {
    uint32_t off;
    uint32_t len;
  };
  static constexpr size_t kTypicalIdBytes = 36;  // a UUID
  std::string text_;
  std::vector<Ref> ids_;
  std::vector<Slot> slots_;
};

// How many customers the store holds, to reserve an index and its rows up front: growing
// them row by row rehashes and moves everything several times on a large book.
inline Result<size_t> CustomerCount(Store& store) {
  FB_ASSIGN_OR_RETURN(Statement count, store.Prepare("SELECT count(*) FROM customers"));
  FB_ASSIGN_OR_RETURN(bool counted, count.Step());
  return counted ? static_cast<size_t>(count.Int(0)) : size_t{0};
}

}  // namespace fieldbook
