// Three-way merge of free text (notes): both sides' edits against their common base are
// kept when they touch different parts of the text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace fieldbook::sync {

// The merged text, or nullopt when the two edits overlap (the caller falls back to
// last-writer-wins and records a conflict). Works on Unicode code points, so CJK and emoji
// are never split; multi-line text is merged line by line first.
std::optional<std::string> MergeText(std::string_view base, std::string_view ours, std::string_view theirs);

}  // namespace fieldbook::sync
