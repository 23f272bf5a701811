// TextArena: many short texts kept in one string (see below).
#pragma once
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fieldbook {

// Texts appended to one string and named by offset and length. A 100k-customer `today`
// lists ~65k occasions, and as nine std::strings each they were tens of megabytes of fresh
// memory and hundreds of thousands of allocations to make and free; the reports keep the
// ids they read beside the customers the same way.
struct TextRef {
  uint32_t off = 0;
  uint32_t len = 0;
};

class TextArena {
 public:
  // A piece of a text: outside bytes, or a text already in the arena (read only after
  // the arena has made room, which may move it).
  struct Piece {
    Piece(std::string_view v) : view(v) {}
    Piece(const char* v) : view(v) {}
    Piece(const std::string& v) : view(v) {}
    Piece(TextRef r) : ref(r), inside(true) {}
    std::string_view view;
    TextRef ref;
    bool inside = false;
  };
  void Reserve(size_t n) { buf_.reserve(n); }
  TextRef Add(std::string_view s) { return Join({s}); }
  TextRef Join(std::initializer_list<Piece> pieces) {
    size_t n = 0;
    for (const Piece& p : pieces) n += p.inside ? p.ref.len : p.view.size();
    if (buf_.size() + n > kMaxBytes) {  // offsets are 32-bit: the caller reports it
      full_ = true;
      return TextRef{};
    }
    buf_.reserve(buf_.size() + n);  // past capacity, the string doubles it
    const auto off = static_cast<uint32_t>(buf_.size());
    for (const Piece& p : pieces) buf_.append(p.inside ? View(p.ref) : p.view);
    return TextRef{off, static_cast<uint32_t>(n)};
  }
  std::string_view View(TextRef r) const { return std::string_view(buf_.data() + r.off, r.len); }
  // Whether a text did not fit (it was left empty).
  bool full() const { return full_; }

 private:
  static constexpr size_t kMaxBytes = UINT32_MAX;
  std::string buf_;
  bool full_ = false;
};

}  // namespace fieldbook
