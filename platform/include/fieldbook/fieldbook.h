/* Fieldbook C API: what Android (JNI), iOS (Swift) and any other app embeds.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *
 *  1. Names are fieldbook_<object>_<verb>. Objects are opaque handles: fieldbook_db (one
 *     agent profile, i.e. one database file) and fieldbook_sync (its sync with a server).
 *     A handle is a token, not an address: the library never dereferences a handle it did
 *     not issue and never issues the same value twice, so a NULL, closed or made-up handle
 *     makes a call fail with FIELDBOOK_ERR_INVALID_ARGUMENT instead of crashing.
 *
 *  2. Functions return true on success. The last parameter, `fieldbook_error* out_error`,
 *     may be NULL; it is written only when the function fails (it is left untouched on
 *     success). There is no thread-local "last error". No C++ exception ever leaves the
 *     library: an unexpected one becomes FIELDBOOK_ERR_INTERNAL.
 *
 *  3. Ownership, one rule: every `char*` the library hands out through an out-parameter
 *     belongs to the caller and is released with fieldbook_free(). `const char*` values
 *     the library returns or passes to callbacks are borrowed: valid until the function
 *     or callback returns (static strings, such as fieldbook_version(), forever), never
 *     freed by the caller. Strings the caller passes in are only read during the call
 *     (the library copies what it keeps). Handles are released by their close function.
 *
 *  4. Text is UTF-8. Domain operations take and return JSON (see fieldbook_db_call).
 *
 *  5. Threads: every function may be called from any thread. A fieldbook_db serialises
 *     its calls with a lock (one SQLite connection per handle); a running sync releases
 *     that lock while it waits for the network. Callbacks are invoked without the lock
 *     held, so they may call back into the library (except the calls documented as
 *     forbidden inside callbacks). Which thread runs each callback is stated with it.
 *
 * Error codes are the numeric values of the library's single error list: they are
 * stable (append only) and each has a snake_case name (fieldbook_error_code_name).
 */
#ifndef FIELDBOOK_FIELDBOOK_H_
#define FIELDBOOK_FIELDBOOK_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(FIELDBOOK_BUILDING_LIBRARY)
#define FIELDBOOK_API __declspec(dllexport)
#else
#define FIELDBOOK_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define FIELDBOOK_API __attribute__((visibility("default")))
#else
#define FIELDBOOK_API
#endif

/* Nullability for Swift and clang's checker; empty for compilers without it. */
#if defined(__clang__) && defined(__has_feature)
#if __has_feature(nullability)
#define FIELDBOOK_NULLABLE _Nullable
#define FIELDBOOK_NONNULL _Nonnull
#endif
#endif
#ifndef FIELDBOOK_NULLABLE
#define FIELDBOOK_NULLABLE
#define FIELDBOOK_NONNULL
#endif

/* C++ callers see that nothing throws. */
#ifdef __cplusplus
#define FIELDBOOK_NOEXCEPT noexcept
#else
#define FIELDBOOK_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

/* Domains group the codes (validation, not found, store, ...). */
enum {
  FIELDBOOK_DOMAIN_NONE = 0,
  FIELDBOOK_DOMAIN_VALIDATION = 1, /* the caller's input is wrong */
  FIELDBOOK_DOMAIN_NOT_FOUND = 2,
  FIELDBOOK_DOMAIN_STORE = 3, /* the local database */
  FIELDBOOK_DOMAIN_SQLITE = 4,
  FIELDBOOK_DOMAIN_PROTOCOL = 5, /* the server sent something we cannot accept */
  FIELDBOOK_DOMAIN_NETWORK = 6,  /* could not reach the server; nothing lost, retry later */
  FIELDBOOK_DOMAIN_AUTH = 7,     /* refused: token missing, expired or revoked */
  FIELDBOOK_DOMAIN_INTERNAL = 8
};

enum {
  FIELDBOOK_OK = 0,
  FIELDBOOK_ERR_INVALID_ARGUMENT = 100, /* also: NULL, closed or unknown handle */
  FIELDBOOK_ERR_INVALID_JSON = 101,
  FIELDBOOK_ERR_UNKNOWN_FIELD = 102,
  FIELDBOOK_ERR_MISSING_FIELD = 103,
  FIELDBOOK_ERR_INVALID_FIELD = 104,
  FIELDBOOK_ERR_READ_ONLY_FIELD = 105,
  FIELDBOOK_ERR_UNAVAILABLE = 106,
  FIELDBOOK_ERR_NOT_FOUND = 200,
  FIELDBOOK_ERR_SCHEMA_TOO_NEW = 300,
  FIELDBOOK_ERR_NOT_A_DATABASE = 301,
  FIELDBOOK_ERR_CORRUPT = 302,
  FIELDBOOK_ERR_DISK_FULL = 303,
  FIELDBOOK_ERR_BUSY = 304,
  FIELDBOOK_ERR_READ_ONLY = 305,
  FIELDBOOK_ERR_CONSTRAINT = 306,
  FIELDBOOK_ERR_IO_ERROR = 307,
  FIELDBOOK_ERR_CANT_OPEN = 308,
  FIELDBOOK_ERR_NOT_INITIALIZED = 309,
  FIELDBOOK_ERR_ALREADY_INITIALIZED = 310,
  FIELDBOOK_ERR_SQLITE_ERROR = 399,
  FIELDBOOK_ERR_MALFORMED_REQUEST = 400,
  FIELDBOOK_ERR_UNSUPPORTED_PROTOCOL = 401,
  FIELDBOOK_ERR_UNKNOWN_TABLE = 402,
  FIELDBOOK_ERR_UNKNOWN_COLUMN = 403,
  FIELDBOOK_ERR_PAYLOAD_TOO_LARGE = 404,
  FIELDBOOK_ERR_CLOCK_SKEW = 405,
  FIELDBOOK_ERR_SERVER_ONLY_COLUMN = 406,
  FIELDBOOK_ERR_IMMUTABLE_COLUMN = 407,
  FIELDBOOK_ERR_BAD_CURSOR = 408,
  FIELDBOOK_ERR_STALE_RESPONSE = 409,
  FIELDBOOK_ERR_HASH_MISMATCH = 410,
  FIELDBOOK_ERR_OFFSET_MISMATCH = 411,
  FIELDBOOK_ERR_RANGE_NOT_SATISFIABLE = 412,
  FIELDBOOK_ERR_UNREACHABLE = 500,
  FIELDBOOK_ERR_TIMEOUT = 501,
  FIELDBOOK_ERR_SERVER_ERROR = 502,
  FIELDBOOK_ERR_CANCELLED = 503,
  FIELDBOOK_ERR_UNAUTHORIZED = 600,
  FIELDBOOK_ERR_FORBIDDEN = 601,
  FIELDBOOK_ERR_TOKEN_EXPIRED = 602,
  FIELDBOOK_ERR_REVOKED = 603,
  FIELDBOOK_ERR_WRONG_KEY = 604,
  FIELDBOOK_ERR_INTERNAL = 900
};

#define FIELDBOOK_ERROR_FIELD_SIZE 128
#define FIELDBOOK_ERROR_MESSAGE_SIZE 512

/* A failure. Plain data: nothing to free. `field` names the offending input field when
 * there is one ("phones[1]"), else it is empty; `message` names the offending input.
 * Both are NUL-terminated UTF-8, truncated on a character boundary if too long. */
typedef struct fieldbook_error {
  int32_t domain;
  int32_t code;
  char field[FIELDBOOK_ERROR_FIELD_SIZE];
  char message[FIELDBOOK_ERROR_MESSAGE_SIZE];
} fieldbook_error;

/* "invalid_field", "unreachable", ...; "unknown" for a code this version does not know.
 * Static string. */
FIELDBOOK_API const char* FIELDBOOK_NONNULL fieldbook_error_code_name(int32_t code) FIELDBOOK_NOEXCEPT;

/* Releases a `char*` the library returned. NULL is allowed (does nothing). */
FIELDBOOK_API void fieldbook_free(void* FIELDBOOK_NULLABLE p) FIELDBOOK_NOEXCEPT;

/* "0.1.0". Static string. */
FIELDBOOK_API const char* FIELDBOOK_NONNULL fieldbook_version(void) FIELDBOOK_NOEXCEPT;

/* Open database and sync handles plus transport requests awaiting an answer, in this
 * process: tests check it returns to zero (nothing leaked). */
FIELDBOOK_API int64_t fieldbook_handle_count(void) FIELDBOOK_NOEXCEPT;

/* ------------------------------------------------------------------ OS adapters
 * Process-wide settings the app makes once, before opening databases. */

/* The app's private data directory (Android Context.getFilesDir(), iOS Application
 * Support). A relative path given to fieldbook_db_open is resolved against it; absolute
 * paths are used as given. `path` must be absolute. NULL clears the setting. */
FIELDBOOK_API bool fieldbook_env_set_data_directory(const char* FIELDBOOK_NULLABLE path,
                                                    fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Key store hook (Android Keystore, iOS Keychain): asked for the database key each time
 * a database is opened. It writes at most `capacity` bytes into `key`, sets `*key_len`
 * and returns true; returning false makes the open fail (FIELDBOOK_ERR_CANT_OPEN), e.g.
 * while the device is locked. Called on the thread calling fieldbook_db_open. The key is
 * kept in memory for the handle and zeroed on close; the buffer passed to the hook is
 * zeroed after the call. The key (16 to 64 bytes) encrypts the profile's sensitive values
 * at rest (AES-256-GCM); a profile encrypted before refuses to open without it or with
 * another key (FIELDBOOK_ERR_WRONG_KEY). */
#define FIELDBOOK_KEY_CAPACITY 64
typedef bool (*fieldbook_key_provider_fn)(void* FIELDBOOK_NULLABLE context, const char* FIELDBOOK_NONNULL db_path,
                                          uint8_t* FIELDBOOK_NONNULL key, size_t capacity,
                                          size_t* FIELDBOOK_NONNULL key_len);
/* Registers the hook (NULL removes it). `context` is passed back unchanged. */
FIELDBOOK_API bool fieldbook_env_set_key_provider(fieldbook_key_provider_fn FIELDBOOK_NULLABLE provider,
                                                  void* FIELDBOOK_NULLABLE context,
                                                  fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* ------------------------------------------------------------------ database */

typedef struct fieldbook_db fieldbook_db;

/* Opens (by default creating) the profile database at `path`. `options_json` may be NULL
 * or an object with any of:
 *   "create": bool (default true)   create the file if it does not exist
 *   "read_only": bool (default false)
 *   "agent": "A", "team": "T"       initialise a new profile for this agent (an existing
 *                                   profile of another agent is refused)
 * On success `*out_db` is a new handle to release with fieldbook_db_close. */
FIELDBOOK_API bool fieldbook_db_open(const char* FIELDBOOK_NONNULL path, const char* FIELDBOOK_NULLABLE options_json,
                                     fieldbook_db* FIELDBOOK_NULLABLE* FIELDBOOK_NONNULL out_db,
                                     fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Closes the database: stops its sync (if any) and waits for callbacks running on other
 * threads to return; after it returns no callback registered on this handle runs again.
 * The handle is invalid afterwards (calls with it fail, they do not crash). Must not be
 * called from a sync callback (fails with FIELDBOOK_ERR_INVALID_ARGUMENT). */
FIELDBOOK_API bool fieldbook_db_close(fieldbook_db* FIELDBOOK_NULLABLE db, fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Runs one domain operation: `method` names it, `args_json` is a JSON object (NULL means
 * {}), and on success `*out_json` receives the result as JSON (free it with
 * fieldbook_free). Each call is one transaction: a failed call changes nothing.
 *
 * Methods (GROUP is customer, family, policy, claim, roster, role, consent, visit, task;
 * their tables: customers, family_members, policies, claims, group_members,
 * policy_roles, consents, visits, tasks):
 *   GROUP.add     {record fields}                        -> {"id": ID}
 *                 (child records name their parent: "customer_id" or "policy_id";
 *                  policy.add also accepts "roles" and "members" arrays)
 *   GROUP.set     {"id": ID, fields to change}           -> {"id": ID}
 *   GROUP.show    {"id": ID}                             -> the record
 *   GROUP.delete  {"id": ID}                             -> {"id": ID}
 *   GROUP.list    {"customer_id"?, "where"?: {field: value}, "limit"?, "offset"?}
 *                 customer.list also takes "search" (name, phone or notes),
 *                 task.list "due_before": "YYYY-MM-DD"   -> [records]
 *   customer.archive {"id": ID}  -> {"customer": {...}, "policies": [...], ...}
 *   customer.import  {"jsonl": "one customer object a line"}
 *                                -> {"inserted": n, "updated": n, "lines": n}
 *   customer.index   {}  brings the search indexes up to date (the next search would);
 *                    call it off the UI thread after a large sync or import
 *                                -> {"indexed": customers indexed}
 *   task.done     {"id": ID}                             -> {"id": ID}
 *   conflicts.list    {"all"?: bool}                     -> [conflicts], newest first
 *   conflicts.resolve {"id": ID, "keep": "winner" | "loser"} or {"id": ID, "value": V}
 *                                                        -> {"id": ID of the row kept}
 *   profile.init  {"agent": A, "team"?: T}               -> {"agent": A, "team": T}
 *   profile.show  {}                    -> {"agent": A, "team": T, "path": P, "has_key": b}
 *   export        {}                    -> every synced table, canonical JSON
 *   methods       {}                    -> ["conflicts.list", ...] (this table)
 * An unknown method fails with FIELDBOOK_ERR_INVALID_ARGUMENT naming it; new groups
 * (calendar, kanban, reports) are added to this table without changing the ABI. */
FIELDBOOK_API bool fieldbook_db_call(fieldbook_db* FIELDBOOK_NULLABLE db, const char* FIELDBOOK_NONNULL method,
                                     const char* FIELDBOOK_NULLABLE args_json,
                                     char* FIELDBOOK_NULLABLE* FIELDBOOK_NONNULL out_json,
                                     fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Change notifications: called after a write committed through this handle, with
 *   {"origin": "local" | "remote", "tables": {"customers": {"inserted": 1, "updated": 0,
 *    "deleted": 0}, ...}}
 * "local": after a fieldbook_db_call that changed rows, on the thread that made the call,
 * after the call's result is ready. "remote": after each sync round trip that applied
 * rows from the server, on the thread running the sync (the sync thread, or the caller
 * of fieldbook_sync_run). Only synced tables are named. It is a hint to refresh: it may
 * name a table whose rows ended up unchanged, it never misses a committed change made
 * through this handle (writes by other processes on the same file are not seen).
 * One listener per handle; NULL removes it. When this returns, the previous listener is
 * not called again (calls already running on other threads have returned). */
typedef void (*fieldbook_change_fn)(void* FIELDBOOK_NULLABLE context, const char* FIELDBOOK_NONNULL changes_json);
FIELDBOOK_API bool fieldbook_db_set_change_listener(fieldbook_db* FIELDBOOK_NULLABLE db,
                                                    fieldbook_change_fn FIELDBOOK_NULLABLE listener,
                                                    void* FIELDBOOK_NULLABLE context,
                                                    fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* ------------------------------------------------------------------ transport
 * The app performs HTTP itself (OkHttp, URLSession). The library calls the transport
 * callback for each request and waits (on the sync thread, without the database lock)
 * until the app completes it, the request times out, or the sync is stopped. One request
 * is outstanding at a time. During a pull over several pages the callback for the next
 * page comes before the library writes the page it has (with the database lock held
 * meanwhile), so the app's network and the library's writing overlap; answering
 * straight away is as correct as answering later. */

typedef struct fieldbook_transport_request fieldbook_transport_request;

/* One HTTP exchange to perform: `method` ("POST"), `path` ("/v1/sync": the app prepends
 * its server's base URL), `headers_json` (an object of header name to value, to send as
 * given), and the body bytes (send them unchanged; they may be gzip). Called on the sync
 * thread. All pointers are borrowed for the duration of the call; the app copies what it
 * needs and answers later, from any thread, with fieldbook_transport_complete or
 * fieldbook_transport_fail on `request` (exactly once). It may also answer before
 * returning. */
typedef void (*fieldbook_transport_fn)(void* FIELDBOOK_NULLABLE context, const char* FIELDBOOK_NONNULL method,
                                       const char* FIELDBOOK_NONNULL path, const char* FIELDBOOK_NONNULL headers_json,
                                       const uint8_t* FIELDBOOK_NULLABLE body, size_t body_len,
                                       fieldbook_transport_request* FIELDBOOK_NONNULL request);

/* Hands back the server's response: any HTTP status (4xx and 5xx included) and the raw
 * body bytes as received (not decompressed). The bytes are copied. Fails with
 * FIELDBOOK_ERR_INVALID_ARGUMENT when the request was already answered, timed out or
 * was cancelled (nothing to do then). */
FIELDBOOK_API bool fieldbook_transport_complete(fieldbook_transport_request* FIELDBOOK_NULLABLE request,
                                                int32_t http_status, const uint8_t* FIELDBOOK_NULLABLE body,
                                                size_t body_len, fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Reports that no response came: `code` is FIELDBOOK_ERR_UNREACHABLE (no connection,
 * DNS, TLS, reset) or FIELDBOOK_ERR_TIMEOUT; `message` (may be NULL) says why. */
FIELDBOOK_API bool fieldbook_transport_fail(fieldbook_transport_request* FIELDBOOK_NULLABLE request, int32_t code,
                                            const char* FIELDBOOK_NULLABLE message,
                                            fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* ------------------------------------------------------------------ sync */

typedef struct fieldbook_sync fieldbook_sync;

enum {
  FIELDBOOK_SYNC_IDLE = 0,        /* waiting for a write, the periodic timer or a request */
  FIELDBOOK_SYNC_SYNCING = 1,
  FIELDBOOK_SYNC_BACKING_OFF = 2, /* the last sync failed; retrying after a delay */
  FIELDBOOK_SYNC_OFFLINE = 3,     /* the app said there is no connectivity */
  FIELDBOOK_SYNC_STOPPED = 4
};

/* State changes of the scheduler, on the sync thread. `last_error` is the failure of the
 * latest sync (borrowed; NULL when it succeeded or none ran yet). After each sync the
 * state is reported even when it did not change, so every failure is seen. */
typedef void (*fieldbook_sync_state_fn)(void* FIELDBOOK_NULLABLE context, int32_t state,
                                        const fieldbook_error* FIELDBOOK_NULLABLE last_error);
/* After each round trip of a sync, on the thread running it: rows pushed and pulled so
 * far in this sync, round trips made, and whether the server has more. */
typedef void (*fieldbook_sync_progress_fn)(void* FIELDBOOK_NULLABLE context, int64_t pushed, int64_t pulled,
                                           int64_t round_trips, bool more);

typedef struct fieldbook_sync_callbacks {
  void* FIELDBOOK_NULLABLE context; /* passed back to every callback */
  fieldbook_transport_fn FIELDBOOK_NULLABLE transport; /* required */
  fieldbook_sync_state_fn FIELDBOOK_NULLABLE on_state;
  fieldbook_sync_progress_fn FIELDBOOK_NULLABLE on_progress;
} fieldbook_sync_callbacks;

/* Creates the sync of `db` (one per database) without starting it. `options_json` may be
 * NULL or an object with any of (times in milliseconds):
 *   "token": bearer token              "online": bool (default true)
 *   "debounce_ms": 2000                sync this long after the last local write
 *   "periodic_ms": 900000              sync this long after the last success (0: never)
 *   "backoff_min_ms": 1000, "backoff_max_ms": 300000
 *                                      after the n-th failure in a row, wait a random
 *                                      delay in [min, min(max, min * 2^n)]
 *   "request_timeout_ms": 60000        give up on a transport request after this long
 *   "page_limit": 2000                 rows per pulled page
 * `callbacks` is copied. On success `*out_sync` is released with fieldbook_sync_close. */
FIELDBOOK_API bool fieldbook_sync_open(fieldbook_db* FIELDBOOK_NULLABLE db, const char* FIELDBOOK_NULLABLE options_json,
                                       const fieldbook_sync_callbacks* FIELDBOOK_NONNULL callbacks,
                                       fieldbook_sync* FIELDBOOK_NULLABLE* FIELDBOOK_NONNULL out_sync,
                                       fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Stops the sync (as fieldbook_sync_stop), waits for a fieldbook_sync_run in progress to
 * end, and releases the handle. After it returns no callback of this sync runs again;
 * transport completions arriving later fail harmlessly. Must not be called from a sync
 * callback. Closing the database first also stops the sync; the handle then still needs
 * fieldbook_sync_close (its other calls fail). */
FIELDBOOK_API bool fieldbook_sync_close(fieldbook_sync* FIELDBOOK_NULLABLE sync,
                                        fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Starts the scheduler thread: it syncs at once (when online), then after local writes
 * (debounced), when connectivity comes back, periodically, and retries failures with
 * backoff. Fails if already started. */
FIELDBOOK_API bool fieldbook_sync_start(fieldbook_sync* FIELDBOOK_NULLABLE sync,
                                        fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Stops the scheduler: cancels a sync in flight (nothing is lost; it resumes next time),
 * reports FIELDBOOK_SYNC_STOPPED and joins the thread. Idempotent. Can be started again.
 * Must not be called from a sync callback. */
FIELDBOOK_API bool fieldbook_sync_stop(fieldbook_sync* FIELDBOOK_NULLABLE sync,
                                       fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Connectivity hint from the OS (ConnectivityManager, NWPathMonitor). Offline: no sync is
 * attempted. Back online: syncs at once and forgets the backoff. */
FIELDBOOK_API bool fieldbook_sync_set_online(fieldbook_sync* FIELDBOOK_NULLABLE sync, bool online,
                                             fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Replaces the bearer token (e.g. after a refresh); the next sync uses it. Triggers a
 * sync when the scheduler is backing off. */
FIELDBOOK_API bool fieldbook_sync_set_token(fieldbook_sync* FIELDBOOK_NULLABLE sync, const char* FIELDBOOK_NONNULL token,
                                            fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Asks the scheduler to sync as soon as possible (pull to refresh), even while backing
 * off. Does nothing visible until the scheduler is started. */
FIELDBOOK_API bool fieldbook_sync_request(fieldbook_sync* FIELDBOOK_NULLABLE sync,
                                          fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Runs one complete sync on the calling thread and blocks until it ends (never call it
 * on a UI thread, nor from a callback). Waits for a scheduled sync in progress first.
 * Progress and change callbacks run on the calling thread; the scheduler's state is not
 * changed. On success `*out_report_json` receives {"pushed", "pulled", "conflicts",
 * "evicted", "round_trips", "cursor", "bytes_sent", "bytes_received"}. */
FIELDBOOK_API bool fieldbook_sync_run(fieldbook_sync* FIELDBOOK_NULLABLE sync,
                                      char* FIELDBOOK_NULLABLE* FIELDBOOK_NONNULL out_report_json,
                                      fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* Writes blob `sha256` (a visit photo, an ID scan: rows name blobs by the SHA-256 of their
 * bytes, see docs/blobs.md) to the file `path`: from the device when it has it, else
 * downloaded through this sync's transport with its token, resumably and verified against
 * the hash, and kept on the device. Blocks like fieldbook_sync_run (never on a UI thread,
 * nor from a callback); waits for a sync in progress. On success `*out_json` receives
 * {"sha256", "size", "source": "local" | "server"}. FIELDBOOK_NOT_FOUND when the server
 * has no such blob or the token may not read it. Blobs are put with the database method
 * "blob.put" {"path": FILE}; the next sync uploads them. */
FIELDBOOK_API bool fieldbook_sync_fetch_blob(fieldbook_sync* FIELDBOOK_NULLABLE sync, const char* FIELDBOOK_NONNULL sha256,
                                             const char* FIELDBOOK_NONNULL path,
                                             char* FIELDBOOK_NULLABLE* FIELDBOOK_NONNULL out_json,
                                             fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

/* The sync's status: {"state": "idle" | "syncing" | "backing_off" | "offline" |
 * "stopped", "online": bool, "failures": n (in a row), "next_sync_in_ms": n | null,
 * "pending_rows": n (local changes not yet acknowledged), "last_error": {"code": n,
 * "name": s, "message": s} | null, "last_report": {...} | null}. */
FIELDBOOK_API bool fieldbook_sync_status(fieldbook_sync* FIELDBOOK_NULLABLE sync,
                                         char* FIELDBOOK_NULLABLE* FIELDBOOK_NONNULL out_status_json,
                                         fieldbook_error* FIELDBOOK_NULLABLE out_error) FIELDBOOK_NOEXCEPT;

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FIELDBOOK_FIELDBOOK_H_ */
