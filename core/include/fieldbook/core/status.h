// Status and Result<T>: how every Fieldbook operation reports failure.
//
// Guarantees:
//  1. A Status is either ok or carries one ErrorCode from the single list below, a
//     message naming the offending input, and optionally the field it concerns.
//  2. Codes have stable snake_case names (ErrorCodeName); they appear in the CLI's
//     stderr, the protocol's JSON errors and the C ABI, and never change meaning.
//  3. Fieldbook code does not throw; failures travel as values.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace fieldbook {

enum class ErrorDomain { kNone, kValidation, kNotFound, kStore, kSqlite, kProtocol, kNetwork, kAuth, kInternal };

// One list for every layer, grouped by domain. Values are part of the C ABI: append only.
enum class ErrorCode : int {
  kOk = 0,
  // validation: the caller's input is wrong (CLI exit 2, HTTP 400)
  kInvalidArgument = 100,
  kInvalidJson = 101,
  kUnknownField = 102,
  kMissingField = 103,
  kInvalidField = 104,
  kReadOnlyField = 105,
  kUnavailable = 106,  // a feature not built in (e.g. lunar dates without ICU)
  // not found (CLI exit 3, HTTP 404)
  kNotFound = 200,
  // store: the local database
  kSchemaTooNew = 300,
  kNotADatabase = 301,
  kCorrupt = 302,
  kDiskFull = 303,
  kBusy = 304,
  kReadOnly = 305,
  kConstraint = 306,
  kIoError = 307,
  kCantOpen = 308,
  kNotInitialized = 309,
  kAlreadyInitialized = 310,
  kSqliteError = 399,
  // protocol: a peer sent something we cannot accept (HTTP 400/409/413/422)
  kMalformedRequest = 400,
  kUnsupportedProtocol = 401,
  kUnknownTable = 402,
  kUnknownColumn = 403,
  kPayloadTooLarge = 404,
  kClockSkew = 405,
  kServerOnlyColumn = 406,
  kImmutableColumn = 407,
  kBadCursor = 408,
  kStaleResponse = 409,
  kHashMismatch = 410,         // content does not hash to its address (HTTP 422)
  kOffsetMismatch = 411,       // an upload chunk not at the stored offset (HTTP 409)
  kRangeNotSatisfiable = 412,  // a byte range outside the content (HTTP 416)
  // network: could not reach the peer; nothing lost, retry later (CLI exit 4)
  kUnreachable = 500,
  kTimeout = 501,
  kServerError = 502,
  kCancelled = 503,
  // auth: refused (CLI exit 5, HTTP 401/403)
  kUnauthorized = 600,
  kForbidden = 601,
  kTokenExpired = 602,
  kRevoked = 603,
  kWrongKey = 604,  // the database key does not open this database, or it is missing
  // internal
  kInternal = 900,
};

ErrorDomain DomainOf(ErrorCode code);
// Stable snake_case name, e.g. "invalid_field".
std::string_view ErrorCodeName(ErrorCode code);
// Inverse of ErrorCodeName; nullopt for names we do not know.
std::optional<ErrorCode> ErrorCodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  ErrorDomain domain() const { return DomainOf(code_); }
  const std::string& message() const { return message_; }
  // Dotted path of the offending field when the error concerns one ("phones[1]").
  const std::string& field() const { return field_; }
  // "invalid_field: phones[1]: not a mobile number: 1380013"
  std::string ToString() const;

  // Prefixes the field path, used when a nested validator reports upward.
  Status WithFieldPrefix(std::string_view prefix) const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string field_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  // Two overloads rather than one by value: `return local;` then moves the local (C++17
  // only moves implicitly into a constructor taking T&&), instead of copying it.
  Result(const T& value) : v_(value) {}       // NOLINT: implicit by design
  Result(T&& value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an ok Status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace fieldbook

// Early return of a failed Status or Result from the current function.
#define FB_RETURN_IF_ERROR(expr)                      \
  do {                                                \
    ::fieldbook::Status fb_status__ = (expr);         \
    if (!fb_status__.ok()) return fb_status__;        \
  } while (0)

#define FB_CONCAT_INNER_(a, b) a##b
#define FB_CONCAT_(a, b) FB_CONCAT_INNER_(a, b)
// FB_ASSIGN_OR_RETURN(auto x, MakeX()); declares x from a Result or returns its Status.
#define FB_ASSIGN_OR_RETURN(lhs, expr) \
  FB_ASSIGN_OR_RETURN_IMPL_(FB_CONCAT_(fb_result__, __LINE__), lhs, expr)
#define FB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
