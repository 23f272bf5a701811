#include "fieldbook/sync/text_merge.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace fieldbook::sync {
namespace {

using Tokens = std::vector<std::string_view>;

// Largest LCS table we fill (cells); beyond it the merge gives up and the caller records
// a conflict instead of spending unbounded time on hostile or huge input.
constexpr size_t kMaxCells = 4'000'000;

Tokens SplitCodePoints(std::string_view s) {
  Tokens out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

Tokens SplitLines(std::string_view s) {
  Tokens out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    out.push_back(s.substr(start, end - start));
    start = end;
  }
  return out;
}

// match[i] = index in b of a[i] in one longest common subsequence, or -1.
bool Match(const Tokens& a, const Tokens& b, std::vector<long>& match) {
  match.assign(a.size(), -1);
  // Common prefix and suffix need no table.
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre]) match[pre] = static_cast<long>(pre), ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre && a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) {
    match[a.size() - 1 - suf] = static_cast<long>(b.size() - 1 - suf);
    ++suf;
  }
  const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  if (n == 0 || m == 0) return true;
  if ((n + 1) * (m + 1) > kMaxCells) return false;
  std::vector<uint32_t> dp((n + 1) * (m + 1), 0);
  auto at = [&](size_t i, size_t j) -> uint32_t& { return dp[i * (m + 1) + j]; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      at(i, j) = a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
    }
  }
  for (size_t i = 0, j = 0; i < n && j < m;) {
    if (a[pre + i] == b[pre + j]) {
      match[pre + i] = static_cast<long>(pre + j);
      ++i, ++j;
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      ++i;
    } else {
      ++j;
    }
  }
  return true;
}

bool Same(const Tokens& x, size_t x0, size_t x1, const Tokens& y, size_t y0, size_t y1) {
  if (x1 - x0 != y1 - y0) return false;
  for (size_t i = 0; i < x1 - x0; ++i) {
    if (x[x0 + i] != y[y0 + i]) return false;
  }
  return true;
}

std::optional<std::string> Merge3(const Tokens& base, const Tokens& ours, const Tokens& theirs) {
  std::vector<long> mo, mt;
  if (!Match(base, ours, mo) || !Match(base, theirs, mt)) return std::nullopt;
  std::string out;
  auto emit = [&](const Tokens& t, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) out.append(t[i].data(), t[i].size());
  };
  size_t i = 0, j = 0, k = 0;
  const size_t nb = base.size();
  while (i <= nb) {
    if (i < nb && mo[i] == static_cast<long>(j) && mt[i] == static_cast<long>(k)) {
      emit(base, i, i + 1);
      ++i, ++j, ++k;
      continue;
    }
    // Next base token kept by both sides, or the end.
    size_t a = i;
    while (a < nb && (mo[a] < 0 || mt[a] < 0 || mo[a] < static_cast<long>(j) || mt[a] < static_cast<long>(k))) ++a;
    const size_t oj = a < nb ? static_cast<size_t>(mo[a]) : ours.size();
    const size_t tk = a < nb ? static_cast<size_t>(mt[a]) : theirs.size();
    const bool ours_same = Same(ours, j, oj, base, i, a);
    const bool theirs_same = Same(theirs, k, tk, base, i, a);
    if (ours_same) {
      emit(theirs, k, tk);
    } else if (theirs_same || Same(ours, j, oj, theirs, k, tk)) {
      emit(ours, j, oj);
    } else {
      return std::nullopt;
    }
    if (a >= nb) break;
    i = a, j = oj, k = tk;
  }
  return out;
}

}  // namespace

std::optional<std::string> MergeText(std::string_view base, std::string_view ours, std::string_view theirs) {
  if (ours == theirs) return std::string(ours);
  if (ours == base) return std::string(theirs);
  if (theirs == base) return std::string(ours);
  const bool multiline = base.find('\n') != std::string_view::npos || ours.find('\n') != std::string_view::npos ||
                         theirs.find('\n') != std::string_view::npos;
  if (multiline) {
    if (auto merged = Merge3(SplitLines(base), SplitLines(ours), SplitLines(theirs))) return merged;
  }
  return Merge3(SplitCodePoints(base), SplitCodePoints(ours), SplitCodePoints(theirs));
}

}  // namespace fieldbook::sync
