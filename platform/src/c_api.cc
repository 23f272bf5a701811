// extern "C" entry points: errors, OS adapters and databases. Every function is noexcept
// and runs its body through Guard (c_api_support.h).
#include <cstdlib>

#include "c_api_support.h"
#include "database.h"
#include "fieldbook/fieldbook.h"
#include "handle_table.h"
#include "platform_env.h"

namespace fieldbook::platform {

HandleTable<Database>& Databases() {
  static auto* table = new HandleTable<Database>();  // never destroyed: handles may be used until exit
  return *table;
}

Result<std::shared_ptr<Database>> FindDatabase(fieldbook_db* db) {
  if (db == nullptr) return NullArgument("db");
  std::shared_ptr<Database> found = Databases().Find(HandleValue(db));
  if (!found) return Status(ErrorCode::kInvalidArgument, "db is not an open database handle (closed already?)", "db");
  return found;
}

namespace {

// The C constants are the library's error codes: checked here, once.
static_assert(FIELDBOOK_ERR_INVALID_ARGUMENT == static_cast<int>(ErrorCode::kInvalidArgument));
static_assert(FIELDBOOK_ERR_UNAVAILABLE == static_cast<int>(ErrorCode::kUnavailable));
static_assert(FIELDBOOK_ERR_NOT_FOUND == static_cast<int>(ErrorCode::kNotFound));
static_assert(FIELDBOOK_ERR_ALREADY_INITIALIZED == static_cast<int>(ErrorCode::kAlreadyInitialized));
static_assert(FIELDBOOK_ERR_SQLITE_ERROR == static_cast<int>(ErrorCode::kSqliteError));
static_assert(FIELDBOOK_ERR_STALE_RESPONSE == static_cast<int>(ErrorCode::kStaleResponse));
static_assert(FIELDBOOK_ERR_RANGE_NOT_SATISFIABLE == static_cast<int>(ErrorCode::kRangeNotSatisfiable));
static_assert(FIELDBOOK_ERR_CANCELLED == static_cast<int>(ErrorCode::kCancelled));
static_assert(FIELDBOOK_ERR_REVOKED == static_cast<int>(ErrorCode::kRevoked));
static_assert(FIELDBOOK_ERR_INTERNAL == static_cast<int>(ErrorCode::kInternal));
static_assert(FIELDBOOK_DOMAIN_AUTH == static_cast<int>(ErrorDomain::kAuth));
static_assert(FIELDBOOK_DOMAIN_INTERNAL == static_cast<int>(ErrorDomain::kInternal));

}  // namespace
}  // namespace fieldbook::platform

using namespace fieldbook;
using namespace fieldbook::platform;

extern "C" {

const char* fieldbook_error_code_name(int32_t code) noexcept {
  const auto c = static_cast<ErrorCode>(code);
  const std::string_view name = ErrorCodeName(c);
  // ErrorCodeName maps codes it does not know to "internal": say "unknown" instead.
  if (ErrorCodeFromName(name) != c) return "unknown";
  return name.data();  // the names are NUL-terminated literals
}

void fieldbook_free(void* p) noexcept { std::free(p); }

const char* fieldbook_version(void) noexcept { return FIELDBOOK_VERSION_STRING; }

bool fieldbook_env_set_data_directory(const char* path, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&] { return SetDataDirectory(path ? path : ""); });
}

bool fieldbook_env_set_key_provider(fieldbook_key_provider_fn provider, void* context,
                                    fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&] {
    SetKeyProvider(provider, context);
    return Status::Ok();
  });
}

bool fieldbook_db_open(const char* path, const char* options_json, fieldbook_db** out_db,
                       fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (out_db == nullptr) return NullArgument("out_db");
    *out_db = nullptr;
    if (path == nullptr) return NullArgument("path");
    FB_ASSIGN_OR_RETURN(DatabaseOptions options, ParseDatabaseOptions(options_json ? options_json : ""));
    const std::string resolved = ResolvePath(path);
    FB_ASSIGN_OR_RETURN(SecretBytes key, FetchKey(resolved));
    FB_ASSIGN_OR_RETURN(std::shared_ptr<Database> db, Database::Open(resolved, options, std::move(key)));
    *out_db = ToHandle<fieldbook_db>(Databases().Add(std::move(db)));
    return Status::Ok();
  });
}

bool fieldbook_db_close(fieldbook_db* db, fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    FB_ASSIGN_OR_RETURN(std::shared_ptr<Database> found, FindDatabase(db));
    FB_RETURN_IF_ERROR(found->CheckCanClose());
    if (!Databases().Remove(HandleValue(db))) {
      return Status(ErrorCode::kInvalidArgument, "db was closed by another thread meanwhile", "db");
    }
    found->Close();
    return Status::Ok();
  });
}

bool fieldbook_db_call(fieldbook_db* db, const char* method, const char* args_json, char** out_json,
                       fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    if (out_json == nullptr) return NullArgument("out_json");
    *out_json = nullptr;
    if (method == nullptr) return NullArgument("method");
    FB_ASSIGN_OR_RETURN(std::shared_ptr<Database> found, FindDatabase(db));
    FB_ASSIGN_OR_RETURN(std::string result, found->Call(method, args_json ? args_json : ""));
    *out_json = CopyOut(result);
    return Status::Ok();
  });
}

bool fieldbook_db_set_change_listener(fieldbook_db* db, fieldbook_change_fn listener, void* context,
                                      fieldbook_error* out_error) noexcept {
  return Guard(out_error, [&]() -> Status {
    FB_ASSIGN_OR_RETURN(std::shared_ptr<Database> found, FindDatabase(db));
    found->SetChangeListener(ChangeListener{listener, context});
    return Status::Ok();
  });
}

}  // extern "C"
