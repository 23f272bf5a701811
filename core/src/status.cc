#include "fieldbook/core/status.h"

namespace fieldbook {
namespace {

struct CodeInfo {
  ErrorCode code;
  ErrorDomain domain;
  std::string_view name;
};

constexpr CodeInfo kCodes[] = {
    {ErrorCode::kOk, ErrorDomain::kNone, "ok"},
    {ErrorCode::kInvalidArgument, ErrorDomain::kValidation, "invalid_argument"},
    {ErrorCode::kInvalidJson, ErrorDomain::kValidation, "invalid_json"},
    {ErrorCode::kUnknownField, ErrorDomain::kValidation, "unknown_field"},
    {ErrorCode::kMissingField, ErrorDomain::kValidation, "missing_field"},
    {ErrorCode::kInvalidField, ErrorDomain::kValidation, "invalid_field"},
    {ErrorCode::kReadOnlyField, ErrorDomain::kValidation, "read_only_field"},
    {ErrorCode::kUnavailable, ErrorDomain::kValidation, "unavailable"},
    {ErrorCode::kNotFound, ErrorDomain::kNotFound, "not_found"},
    {ErrorCode::kSchemaTooNew, ErrorDomain::kStore, "schema_too_new"},
    {ErrorCode::kNotADatabase, ErrorDomain::kStore, "not_a_database"},
    {ErrorCode::kCorrupt, ErrorDomain::kStore, "corrupt"},
    {ErrorCode::kDiskFull, ErrorDomain::kStore, "disk_full"},
    {ErrorCode::kBusy, ErrorDomain::kStore, "busy"},
    {ErrorCode::kReadOnly, ErrorDomain::kStore, "read_only"},
    {ErrorCode::kConstraint, ErrorDomain::kStore, "constraint"},
    {ErrorCode::kIoError, ErrorDomain::kStore, "io_error"},
    {ErrorCode::kCantOpen, ErrorDomain::kStore, "cant_open"},
    {ErrorCode::kNotInitialized, ErrorDomain::kStore, "not_initialized"},
    {ErrorCode::kAlreadyInitialized, ErrorDomain::kStore, "already_initialized"},
    {ErrorCode::kSqliteError, ErrorDomain::kSqlite, "sqlite_error"},
    {ErrorCode::kMalformedRequest, ErrorDomain::kProtocol, "malformed_request"},
    {ErrorCode::kUnsupportedProtocol, ErrorDomain::kProtocol, "unsupported_protocol"},
    {ErrorCode::kUnknownTable, ErrorDomain::kProtocol, "unknown_table"},
    {ErrorCode::kUnknownColumn, ErrorDomain::kProtocol, "unknown_column"},
    {ErrorCode::kPayloadTooLarge, ErrorDomain::kProtocol, "payload_too_large"},
    {ErrorCode::kClockSkew, ErrorDomain::kProtocol, "clock_skew"},
    {ErrorCode::kServerOnlyColumn, ErrorDomain::kProtocol, "server_only_column"},
    {ErrorCode::kImmutableColumn, ErrorDomain::kProtocol, "immutable_column"},
    {ErrorCode::kBadCursor, ErrorDomain::kProtocol, "bad_cursor"},
    {ErrorCode::kStaleResponse, ErrorDomain::kProtocol, "stale_response"},
    {ErrorCode::kHashMismatch, ErrorDomain::kProtocol, "hash_mismatch"},
    {ErrorCode::kOffsetMismatch, ErrorDomain::kProtocol, "offset_mismatch"},
    {ErrorCode::kRangeNotSatisfiable, ErrorDomain::kProtocol, "range_not_satisfiable"},
    {ErrorCode::kUnreachable, ErrorDomain::kNetwork, "unreachable"},
    {ErrorCode::kTimeout, ErrorDomain::kNetwork, "timeout"},
    {ErrorCode::kServerError, ErrorDomain::kNetwork, "server_error"},
    {ErrorCode::kCancelled, ErrorDomain::kNetwork, "cancelled"},
    {ErrorCode::kUnauthorized, ErrorDomain::kAuth, "unauthorized"},
    {ErrorCode::kForbidden, ErrorDomain::kAuth, "forbidden"},
    {ErrorCode::kTokenExpired, ErrorDomain::kAuth, "token_expired"},
    {ErrorCode::kRevoked, ErrorDomain::kAuth, "revoked"},
    {ErrorCode::kWrongKey, ErrorDomain::kAuth, "wrong_key"},
    {ErrorCode::kInternal, ErrorDomain::kInternal, "internal"},
};

const CodeInfo* Find(ErrorCode code) {
  for (const auto& info : kCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

}  // namespace

ErrorDomain DomainOf(ErrorCode code) {
  const CodeInfo* info = Find(code);
  return info ? info->domain : ErrorDomain::kInternal;
}

std::string_view ErrorCodeName(ErrorCode code) {
  const CodeInfo* info = Find(code);
  return info ? info->name : std::string_view("internal");
}

std::optional<ErrorCode> ErrorCodeFromName(std::string_view name) {
  for (const auto& info : kCodes) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(ErrorCodeName(code_));
  out += ": ";
  if (!field_.empty()) {
    out += field_;
    out += ": ";
  }
  out += message_;
  return out;
}

Status Status::WithFieldPrefix(std::string_view prefix) const {
  if (ok() || prefix.empty()) return *this;
  std::string field(prefix);
  if (!field_.empty()) {
    if (field_.front() != '[') field += '.';
    field += field_;
  }
  return Status(code_, message_, std::move(field));
}

}  // namespace fieldbook
