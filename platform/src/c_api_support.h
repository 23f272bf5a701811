// The C ABI's exception firewall and conversions, shared by every extern "C" function.
#pragma once

#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "fieldbook/core/status.h"
#include "fieldbook/fieldbook.h"

namespace fieldbook::platform {

// Writes a failure into *out (when out is not NULL). Never throws, never allocates.
void FillError(fieldbook_error* out, ErrorCode code, std::string_view message, std::string_view field = {}) noexcept;
void FillError(fieldbook_error* out, const Status& status) noexcept;

// The one exception firewall: runs body (returning Status), and turns a failed Status or
// any exception into *out_error. Every extern "C" function goes through it.
template <typename Body>
bool Guard(fieldbook_error* out_error, Body&& body) noexcept {
  try {
    const Status status = body();
    if (status.ok()) return true;
    FillError(out_error, status);
  } catch (const std::bad_alloc&) {
    FillError(out_error, ErrorCode::kInternal, "out of memory");
  } catch (const std::exception& e) {
    FillError(out_error, ErrorCode::kInternal, e.what());
  } catch (...) {
    FillError(out_error, ErrorCode::kInternal, "unknown exception");
  }
  return false;
}

// A NUL-terminated malloc copy for the caller to release with fieldbook_free. Throws
// std::bad_alloc when memory is exhausted.
char* CopyOut(std::string_view text);

// kInvalidArgument naming the parameter that is NULL.
Status NullArgument(const char* name);

template <typename Handle>
uintptr_t HandleValue(Handle* handle) {
  return reinterpret_cast<uintptr_t>(handle);
}
template <typename Handle>
Handle* ToHandle(uintptr_t value) {
  return reinterpret_cast<Handle*>(value);
}

}  // namespace fieldbook::platform
