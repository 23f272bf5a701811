// extern "C" entry points: sync and transport. Every function is noexcept and runs its
// body through Guard (c_api_support.h).
#include "c_api_support.h"
#include "callback_transport.h"
#include "database.h"
#include "fieldbook/fieldbook.h"
#include "handle_table.h"
#include "sync_session.h"

namespace fieldbook::platform {

HandleTable<Database>& Databases();
Result<std::shared_ptr<Database>> FindDatabase(fieldbook_db* db);

namespace {

HandleTable<SyncSession>& Sessions() {
  static auto* table = new HandleTable<SyncSession>();  // never destroyed: handles may be used until exit
  return *table;
}

Result<std::shared_ptr<SyncSession>> FindSession(fieldbook_sync* sync) {
  if (sync == nullptr) return NullArgument("sync");
  std::shared_ptr<SyncSession> found = Sessions().Find(HandleValue(sync));
  if (!found) return Status(ErrorCode::kInvalidArgument, "sync is not an open sync handle (closed already?)", "sync");
  return found;
}

// Runs fn(session) on the session behind `sync`.
template <typename Fn>
bool WithSession(fieldbook_sync* sync, fieldbook_error* out_error, Fn&& fn) noexcept {
  return Guard(out_error, [&]() -> Status {
    FB_ASSIGN_OR_RETURN(std::shared_ptr<SyncSession> session, FindSession(sync));
    return fn(*session);
  });
}

}  // namespace
}  // namespace fieldbook::platform

using namespace fieldbook;
using namespace fieldbook::platform;

extern "C" {

int64_t fieldbook_handle_count(void) noexcept {
  return static_cast<int64_t>(Databases().size() + Sessions().size() + PendingExchangeCount());
}

bool fieldbook_sync_open(fieldbook_db* db, const char* options_json, const fieldbook_sync_callbacks* callbacks,
                         fieldbook_sync** out_sync, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (out_sync == nullptr) return NullArgument("out_sync");
    *out_sync = nullptr;
    if (callbacks == nullptr) return NullArgument("callbacks");
    FB_ASSIGN_OR_RETURN(std::shared_ptr<Database> found, FindDatabase(db));
    FB_ASSIGN_OR_RETURN(SyncSessionOptions options, ParseSyncOptions(options_json ? options_json : ""));
    FB_ASSIGN_OR_RETURN(std::shared_ptr<SyncSession> session, SyncSession::Open(found, options, *callbacks));
    *out_sync = ToHandle<fieldbook_sync>(Sessions().Add(std::move(session)));
    return Status::Ok();
  });
}

bool fieldbook_sync_close(fieldbook_sync* sync, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    FB_ASSIGN_OR_RETURN(std::shared_ptr<SyncSession> session, FindSession(sync));
    if (session->OnSyncThread()) {
      return Status(ErrorCode::kInvalidArgument, "a sync cannot be closed from its own callbacks", "sync");
    }
    if (!Sessions().Remove(HandleValue(sync))) {
      return Status(ErrorCode::kInvalidArgument, "sync was closed by another thread meanwhile", "sync");
    }
    session->Shutdown();
    return Status::Ok();
  });
}

bool fieldbook_sync_start(fieldbook_sync* sync, fieldbook_error* out_error) noexcept {
  return WithSession(sync, out_error, [](SyncSession& s) { return s.Start(); });
}

bool fieldbook_sync_stop(fieldbook_sync* sync, fieldbook_error* out_error) noexcept {
  return WithSession(sync, out_error, [](SyncSession& s) { return s.Stop(); });
}

bool fieldbook_sync_set_online(fieldbook_sync* sync, bool online, fieldbook_error* out_error) noexcept {
  return WithSession(sync, out_error, [&](SyncSession& s) { return s.SetOnline(online); });
}

bool fieldbook_sync_set_token(fieldbook_sync* sync, const char* token, fieldbook_error* out_error) noexcept {
  return WithSession(sync, out_error, [&](SyncSession& s) -> Status {
    if (token == nullptr) return NullArgument("token");
    return s.SetToken(token);
  });
}

bool fieldbook_sync_request(fieldbook_sync* sync, fieldbook_error* out_error) noexcept {
  return WithSession(sync, out_error, [](SyncSession& s) { return s.Request(); });
}

bool fieldbook_sync_run(fieldbook_sync* sync, char** out_report_json, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (out_report_json == nullptr) return NullArgument("out_report_json");
    *out_report_json = nullptr;
    FB_ASSIGN_OR_RETURN(std::shared_ptr<SyncSession> session, FindSession(sync));
    FB_ASSIGN_OR_RETURN(sync::SyncReport report, session->Run());
    *out_report_json = CopyOut(ReportJson(report));
    return Status::Ok();
  });
}

bool fieldbook_sync_fetch_blob(fieldbook_sync* sync, const char* sha256, const char* path, char** out_json,
                               fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (out_json == nullptr) return NullArgument("out_json");
    *out_json = nullptr;
    if (sha256 == nullptr) return NullArgument("sha256");
    if (path == nullptr) return NullArgument("path");
    FB_ASSIGN_OR_RETURN(std::shared_ptr<SyncSession> session, FindSession(sync));
    FB_ASSIGN_OR_RETURN(std::string json, session->FetchBlob(sha256, path));
    *out_json = CopyOut(json);
    return Status::Ok();
  });
}

bool fieldbook_sync_status(fieldbook_sync* sync, char** out_status_json, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (out_status_json == nullptr) return NullArgument("out_status_json");
    *out_status_json = nullptr;
    FB_ASSIGN_OR_RETURN(std::shared_ptr<SyncSession> session, FindSession(sync));
    FB_ASSIGN_OR_RETURN(std::string status, session->StatusJson());
    *out_status_json = CopyOut(status);
    return Status::Ok();
  });
}

bool fieldbook_transport_complete(fieldbook_transport_request* request, int32_t http_status, const uint8_t* body,
                                  size_t body_len, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (request == nullptr) return NullArgument("request");
    if (body == nullptr && body_len > 0) return NullArgument("body");
    if (http_status < 100 || http_status > 599) {
      return Status(ErrorCode::kInvalidArgument,
                    "http_status " + std::to_string(http_status) +
                        " is not an HTTP status; report a failed exchange with fieldbook_transport_fail",
                    "http_status");
    }
    sync::HttpResponse response;
    response.status = http_status;
    if (body_len > 0) response.body.assign(reinterpret_cast<const char*>(body), body_len);
    return CompleteExchange(HandleValue(request), std::move(response));
  });
}

bool fieldbook_transport_fail(fieldbook_transport_request* request, int32_t code, const char* message,
                              fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (request == nullptr) return NullArgument("request");
    if (code != FIELDBOOK_ERR_UNREACHABLE && code != FIELDBOOK_ERR_TIMEOUT) {
      return Status(ErrorCode::kInvalidArgument, "code must be FIELDBOOK_ERR_UNREACHABLE or FIELDBOOK_ERR_TIMEOUT",
                    "code");
    }
    const std::string why = message && *message ? message : (code == FIELDBOOK_ERR_TIMEOUT ? "timed out" : "unreachable");
    return CompleteExchange(HandleValue(request), Status(static_cast<ErrorCode>(code), why));
  });
}

}  // extern "C"
