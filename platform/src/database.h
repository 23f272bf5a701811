// Database: the object behind a fieldbook_db handle. One agent profile: one SQLite
// connection, its archive, the key from the key store, the change listener, and the link
// to its sync session.
//
// Invariants:
//  1. Every use of the store happens with mu_ held. The only code that runs with the
//     store while another thread may also use it is a sync waiting on the network, and
//     it releases mu_ for exactly that wait (CallbackTransport), outside any transaction.
//  2. App callbacks are never invoked with mu_ held.
//  3. State: open --Close()--> closed. Close first shuts the sync session down (joins its
//     thread), then waits out listener calls on other threads, then under mu_ detaches
//     the change hooks, closes the store and zeroes the key. Calls after that fail with
//     kInvalidArgument; nothing touches a closed store.
//  4. The key is held (zeroed on close) for encryption at rest, which will pass it to
//     Store::Open; nothing reads it yet besides has_key in profile.show.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "callback_slot.h"
#include "change_log.h"
#include "fieldbook/core/archive.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"
#include "fieldbook/fieldbook.h"
#include "mutex.h"
#include "secret_bytes.h"

namespace fieldbook::platform {

class SyncSession;

struct DatabaseOptions {
  bool create = true;
  bool read_only = false;
  std::string agent;  // initialise the profile for this agent when set
  std::string team;
  std::string role;  // agent (default), lead or admin: what this profile may change locally
};

// Parses fieldbook_db_open's options JSON (empty means defaults).
Result<DatabaseOptions> ParseDatabaseOptions(std::string_view json);

struct ChangeListener {
  fieldbook_change_fn fn = nullptr;
  void* context = nullptr;
  explicit operator bool() const { return fn != nullptr; }
};

class Database {
 public:
  // `path` as given (already resolved against the data directory).
  static Result<std::shared_ptr<Database>> Open(const std::string& path, const DatabaseOptions& options,
                                                SecretBytes key);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one method of the table; then, without the lock, reports the committed local
  // changes to the listener and to the sync scheduler.
  Result<std::string> Call(std::string_view method, std::string_view args_json) FB_EXCLUDES(mu_);

  void SetChangeListener(ChangeListener listener) { listener_.Set(listener); }
  // Sends the changes JSON to the listener on the calling thread (no-op when empty).
  void Notify(const std::string& changes_json);

  // Fails (changing nothing) when called on the thread of this database's sync session.
  Status CheckCanClose();
  void Close() FB_EXCLUDES(mu_);

  // Links the sync session (one at a time): kAlreadyInitialized when one is linked.
  Status AttachSession(const std::shared_ptr<SyncSession>& session);
  void DetachSession(const SyncSession* session);

  // The lock and what it guards, for the sync session.
  Mutex& mu() FB_RETURN_CAPABILITY(mu_) { return mu_; }
  Store* store() FB_REQUIRES(mu_) { return store_.get(); }  // nullptr once closed
  ChangeLog& changes() FB_REQUIRES(mu_) { return changes_; }
  // The database key from the key store (empty when none); see invariant 4.
  const SecretBytes& key() FB_REQUIRES(mu_) { return key_; }

 private:
  Database() = default;
  std::shared_ptr<SyncSession> Session();

  Mutex mu_;
  std::unique_ptr<Store> store_ FB_GUARDED_BY(mu_);
  std::unique_ptr<Archive> archive_ FB_GUARDED_BY(mu_);
  ChangeLog changes_ FB_GUARDED_BY(mu_);
  SecretBytes key_ FB_GUARDED_BY(mu_);

  CallbackSlot<ChangeListener> listener_;

  Mutex session_mu_;  // never held while calling out
  std::weak_ptr<SyncSession> session_ FB_GUARDED_BY(session_mu_);
};

}  // namespace fieldbook::platform
