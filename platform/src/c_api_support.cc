#include "c_api_support.h"

#include <cstdlib>
#include <cstring>

#include "fieldbook/core/redaction.h"

namespace fieldbook::platform {
namespace {

// Copies text into a buffer of `size` bytes, NUL-terminated, cut on a UTF-8 boundary.
void CopyTruncated(char* out, size_t size, std::string_view text) noexcept {
  size_t n = text.size() < size ? text.size() : size - 1;
  if (n < text.size()) {
    // Do not end inside a multi-byte character: back up over continuation bytes.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

}  // namespace

void FillError(fieldbook_error* out, ErrorCode code, std::string_view message, std::string_view field) noexcept {
  if (out == nullptr) return;
  out->code = static_cast<int32_t>(code);
  out->domain = static_cast<int32_t>(DomainOf(code));
  CopyTruncated(out->field, sizeof out->field, field);
  CopyTruncated(out->message, sizeof out->message, message);
}

void FillError(fieldbook_error* out, const Status& status) noexcept {
  if (out == nullptr) return;
  try {
    FillError(out, status.code(), RedactPersonalData(status.message()), status.field());
  } catch (...) {  // out of memory while redacting: the message is withheld, not leaked
    FillError(out, status.code(), "(message withheld)", status.field());
  }
}

char* CopyOut(std::string_view text) {
  char* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out == nullptr) throw std::bad_alloc();
  std::memcpy(out, text.data(), text.size());
  out[text.size()] = '\0';
  return out;
}

Status NullArgument(const char* name) {
  return Status(ErrorCode::kInvalidArgument, std::string(name) + " is NULL", name);
}

}  // namespace fieldbook::platform
