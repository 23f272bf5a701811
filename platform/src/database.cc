#include "database.h"

#include <algorithm>

#include "fieldbook/core/audit.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/core/encryption.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/erasure.h"
#include "methods.h"
#include "sync_session.h"

namespace fieldbook::platform {

Result<DatabaseOptions> ParseDatabaseOptions(std::string_view json) {
  DatabaseOptions options;
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return options;
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "options"));
  FB_RETURN_IF_ERROR(args::OnlyKeys(doc, {"create", "read_only", "agent", "team", "role"}));
  FB_ASSIGN_OR_RETURN(options.create, args::OptionalBool(doc, "create", true));
  FB_ASSIGN_OR_RETURN(options.read_only, args::OptionalBool(doc, "read_only", false));
  FB_ASSIGN_OR_RETURN(options.agent, args::OptionalString(doc, "agent"));
  FB_ASSIGN_OR_RETURN(options.team, args::OptionalString(doc, "team"));
  FB_ASSIGN_OR_RETURN(options.role, args::OptionalString(doc, "role"));
  if (options.agent.empty() && (!options.team.empty() || !options.role.empty())) {
    return Status(ErrorCode::kMissingField, "a team or role is given only with its agent", "agent");
  }
  return options;
}

Result<std::shared_ptr<Database>> Database::Open(const std::string& path, const DatabaseOptions& options,
                                                 SecretBytes key) {
  if (path.empty()) return Status(ErrorCode::kInvalidArgument, "the database path is empty", "path");
  StoreOptions store_options;
  store_options.create_if_missing = options.create && !options.read_only;
  store_options.read_only = options.read_only;
  FB_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(path, store_options));
  if (!options.read_only) FB_RETURN_IF_ERROR(sync::AttachSync(*store));
  // The key store's key encrypts sensitive values at rest (encryption.h); a profile
  // encrypted before does not open without it.
  std::optional<std::string> at_rest;
  if (!key.empty()) at_rest.emplace(reinterpret_cast<const char*>(key.data()), key.size());
  Status unlocked = UnlockStore(*store, at_rest, sync::SyncedTables(*store),
                                options.read_only ? UncapturedRunner() : sync::Uncaptured(*store));
  if (at_rest) std::fill(at_rest->begin(), at_rest->end(), '\0');
  FB_RETURN_IF_ERROR(unlocked);
  // Phones have no writable /tmp for SQLite's temporary files; a profile's sorts fit in
  // memory.
  FB_RETURN_IF_ERROR(store->Exec("PRAGMA temp_store = MEMORY"));
  if (!options.agent.empty()) FB_RETURN_IF_ERROR(Archive::Init(*store, options.agent, options.team));
  if (!options.role.empty()) FB_RETURN_IF_ERROR(SetProfileRole(*store, options.role));

  std::shared_ptr<Database> db(new Database());
  MutexLock lock(db->mu_);
  std::set<std::string, std::less<>> synced;
  for (const TableSpec* t : sync::SyncedTables(*store)) synced.insert(t->name);
  // Audit rows are written by reads; announcing them would make every read look like a
  // change (and a screen that reloads on change would loop).
  synced.erase(std::string(kAccessAuditTable));
  db->changes_.Attach(store->handle(), std::move(synced));
  db->archive_ = std::make_unique<Archive>(*store);
  db->store_ = std::move(store);
  db->key_ = std::move(key);
  return db;
}

Database::~Database() { Close(); }

Result<std::string> Database::Call(std::string_view method, std::string_view args_json) {
  std::string changes;
  Result<std::string> result = [&]() -> Result<std::string> {
    MutexLock lock(mu_);
    if (!store_) return Status(ErrorCode::kInvalidArgument, "the database is closed");
    MethodContext context{*store_, *archive_, !key_.empty()};
    auto out = CallMethod(context, method, args_json);
    changes = changes_.TakeJson("local");
    return out;
  }();
  if (!changes.empty()) {
    Notify(changes);
    if (auto session = Session()) session->LocalWrite();
  }
  return result;
}

void Database::Notify(const std::string& changes_json) {
  if (changes_json.empty()) return;
  listener_.Invoke([&](const ChangeListener& l) { l.fn(l.context, changes_json.c_str()); });
}

std::shared_ptr<SyncSession> Database::Session() {
  MutexLock lock(session_mu_);
  return session_.lock();
}

Status Database::AttachSession(const std::shared_ptr<SyncSession>& session) {
  MutexLock lock(session_mu_);
  if (session_.lock()) {
    return Status(ErrorCode::kAlreadyInitialized, "this database already has a sync handle; close it first");
  }
  session_ = session;
  return Status::Ok();
}

void Database::DetachSession(const SyncSession* session) {
  MutexLock lock(session_mu_);
  if (session_.lock().get() == session) session_.reset();
}

Status Database::CheckCanClose() {
  if (auto session = Session(); session && session->OnSyncThread()) {
    return Status(ErrorCode::kInvalidArgument, "a database cannot be closed from its own sync callbacks");
  }
  return Status::Ok();
}

void Database::Close() {
  std::shared_ptr<SyncSession> session;
  {
    MutexLock lock(session_mu_);
    session = session_.lock();
    session_.reset();
  }
  if (session) session->Shutdown();
  listener_.Set(ChangeListener{});
  MutexLock lock(mu_);
  changes_.Detach();
  archive_.reset();
  store_.reset();
  key_.Wipe();
}

}  // namespace fieldbook::platform
