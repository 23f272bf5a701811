#include "http_refusal.h"

#include "fieldbook/sync/protocol.h"

namespace fieldbook::sync {

Status StatusFromHttp(const HttpResponse& r, const std::string& what) {
  const auto err = DecodeError(r.body);
  const std::string detail = err ? err->message : r.body.substr(0, 200);
  if (err) {
    if (auto code = ErrorCodeFromName(err->code)) {
      return Status(*code, "server refused " + what + " (HTTP " + std::to_string(r.status) + "): " + detail);
    }
  }
  if (r.status == 401) return Status(ErrorCode::kUnauthorized, "server refused the token: " + detail);
  if (r.status == 403) return Status(ErrorCode::kForbidden, "server refused " + what + ": " + detail);
  if (r.status >= 500) return Status(ErrorCode::kServerError, "server error HTTP " + std::to_string(r.status) + ": " + detail);
  return Status(ErrorCode::kMalformedRequest, "server answered HTTP " + std::to_string(r.status) + ": " + detail);
}

}  // namespace fieldbook::sync
