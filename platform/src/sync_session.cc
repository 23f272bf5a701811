#include "sync_session.h"

#include <functional>
#include <mutex>

#include "c_api_support.h"
#include "fieldbook/core/env.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/change_capture.h"
#include "methods.h"

namespace fieldbook::platform {
namespace {

Result<Millis> OptionalMillis(const rapidjson::Value& doc, const char* key, Millis fallback) {
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsInt64() || it->value.GetInt64() < 0) {
    return Status(ErrorCode::kInvalidField, "must be a non-negative number of milliseconds", key);
  }
  return Millis(it->value.GetInt64());
}

void WriteStatus(rapidjson::Writer<rapidjson::StringBuffer>& w, const Status& s) {
  if (s.ok()) {
    w.Null();
    return;
  }
  w.StartObject();
  w.Key("code");
  w.Int(static_cast<int>(s.code()));
  w.Key("name");
  const std::string_view name = ErrorCodeName(s.code());
  w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  w.Key("message");
  w.String(s.message().c_str(), static_cast<rapidjson::SizeType>(s.message().size()));
  w.EndObject();
}

void WriteReport(rapidjson::Writer<rapidjson::StringBuffer>& w, const sync::SyncReport& r) {
  w.StartObject();
  const std::pair<const char*, int64_t> fields[] = {
      {"pushed", r.pushed},         {"pulled", r.pulled},       {"conflicts", r.conflicts},
      {"evicted", r.evicted},       {"round_trips", r.round_trips}, {"cursor", r.cursor},
      {"bytes_sent", r.bytes_sent}, {"bytes_received", r.bytes_received},
  };
  for (const auto& [key, value] : fields) {
    w.Key(key);
    w.Int64(value);
  }
  w.EndObject();
}

}  // namespace

Result<SyncSessionOptions> ParseSyncOptions(std::string_view json) {
  SyncSessionOptions o;
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return o;
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "sync options"));
  FB_RETURN_IF_ERROR(args::OnlyKeys(doc, {"token", "online", "debounce_ms", "periodic_ms", "backoff_min_ms",
                                          "backoff_max_ms", "request_timeout_ms", "page_limit"}));
  FB_ASSIGN_OR_RETURN(o.token, args::OptionalString(doc, "token"));
  FB_ASSIGN_OR_RETURN(o.online, args::OptionalBool(doc, "online", true));
  FB_ASSIGN_OR_RETURN(o.schedule.debounce, OptionalMillis(doc, "debounce_ms", o.schedule.debounce));
  FB_ASSIGN_OR_RETURN(o.schedule.periodic, OptionalMillis(doc, "periodic_ms", o.schedule.periodic));
  FB_ASSIGN_OR_RETURN(o.schedule.backoff_min, OptionalMillis(doc, "backoff_min_ms", o.schedule.backoff_min));
  FB_ASSIGN_OR_RETURN(o.schedule.backoff_max, OptionalMillis(doc, "backoff_max_ms", o.schedule.backoff_max));
  FB_ASSIGN_OR_RETURN(o.request_timeout, OptionalMillis(doc, "request_timeout_ms", o.request_timeout));
  FB_ASSIGN_OR_RETURN(o.page_limit, args::OptionalInt(doc, "page_limit", o.page_limit));
  if (o.schedule.backoff_max < o.schedule.backoff_min) {
    return Status(ErrorCode::kInvalidField, "must not be below backoff_min_ms", "backoff_max_ms");
  }
  if (o.page_limit <= 0) return Status(ErrorCode::kInvalidField, "must be at least 1", "page_limit");
  return o;
}

std::string ReportJson(const sync::SyncReport& report) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  WriteReport(w, report);
  return std::string(buf.GetString(), buf.GetSize());
}

SyncSession::SyncSession(std::shared_ptr<Database> db, const SyncSessionOptions& options,
                         const fieldbook_sync_callbacks& callbacks)
    : db_(std::move(db)),
      callbacks_(callbacks),
      page_limit_(options.page_limit),
      transport_(callbacks.transport, callbacks.context, options.request_timeout) {
  MutexLock lock(mu_);
  token_ = options.token;
}

Result<std::shared_ptr<SyncSession>> SyncSession::Open(std::shared_ptr<Database> db, const SyncSessionOptions& options,
                                                       const fieldbook_sync_callbacks& callbacks,
                                                       SchedulerClock& clock) {
  if (callbacks.transport == nullptr) return NullArgument("callbacks->transport");
  std::shared_ptr<SyncSession> session(new SyncSession(db, options, callbacks));
  SyncSession* self = session.get();
  SyncScheduler::Hooks hooks;
  hooks.sync = [self](const std::atomic<bool>& cancel) {
    sync::SyncReport report;
    return self->SyncOnce(cancel, &report);
  };
  hooks.wake = [self] { self->transport_.Wake(); };
  hooks.on_state = [self](SyncPhase phase, const Status& last_error) { self->ReportState(phase, last_error); };
  session->scheduler_ = std::make_unique<SyncScheduler>(
      options.schedule, clock, [] { return SystemEnv().Random64(); }, std::move(hooks), options.online);
  FB_RETURN_IF_ERROR(db->AttachSession(session));
  return session;
}

SyncSession::~SyncSession() { Shutdown(); }

Status SyncSession::CheckUsable() const {
  if (shut_down_.load()) {
    return Status(ErrorCode::kInvalidArgument, "this sync was stopped for good because its database was closed");
  }
  return Status::Ok();
}

bool SyncSession::OnSyncThread() const {
  return scheduler_->OnSchedulerThread() || run_thread_.load() == std::this_thread::get_id();
}

Status SyncSession::Start() {
  FB_RETURN_IF_ERROR(CheckUsable());
  return scheduler_->Start();
}

Status SyncSession::Stop() {
  if (OnSyncThread()) return Status(ErrorCode::kInvalidArgument, "a sync cannot be stopped from its own callbacks");
  scheduler_->Stop();
  return Status::Ok();
}

Status SyncSession::SetOnline(bool online) {
  FB_RETURN_IF_ERROR(CheckUsable());
  scheduler_->SetOnline(online);
  return Status::Ok();
}

Status SyncSession::SetToken(std::string token) {
  FB_RETURN_IF_ERROR(CheckUsable());
  {
    MutexLock lock(mu_);
    token_ = std::move(token);
  }
  scheduler_->RetryIfBackingOff();
  return Status::Ok();
}

Status SyncSession::Request() {
  FB_RETURN_IF_ERROR(CheckUsable());
  scheduler_->Request();
  return Status::Ok();
}

void SyncSession::LocalWrite() {
  if (!shut_down_.load()) scheduler_->LocalWrite();
}

namespace {

// Marks the calling thread as the one inside a sync (OnSyncThread) for its scope.
class RunThreadMark {
 public:
  explicit RunThreadMark(std::atomic<std::thread::id>& id) : id_(id) { id_.store(std::this_thread::get_id()); }
  ~RunThreadMark() { id_.store(std::thread::id()); }
  RunThreadMark(const RunThreadMark&) = delete;
  RunThreadMark& operator=(const RunThreadMark&) = delete;

 private:
  std::atomic<std::thread::id>& id_;
};

// The transport's BeginSync/EndSync for one scope: while it lasts, waits on the network
// release the database lock and honour the cancel flag.
class TransportWindow {
 public:
  TransportWindow(CallbackTransport& transport, const std::atomic<bool>* cancel, std::function<void()> unlock,
                  std::function<void()> relock)
      : transport_(transport) {
    transport_.BeginSync(cancel, std::move(unlock), std::move(relock));
  }
  ~TransportWindow() { transport_.EndSync(); }
  TransportWindow(const TransportWindow&) = delete;
  TransportWindow& operator=(const TransportWindow&) = delete;

 private:
  CallbackTransport& transport_;
};

}  // namespace

Result<sync::SyncReport> SyncSession::Run() {
  FB_RETURN_IF_ERROR(CheckUsable());
  if (OnSyncThread()) return Status(ErrorCode::kInvalidArgument, "a sync cannot be run from its own callbacks");
  sync::SyncReport report;
  FB_RETURN_IF_ERROR(SyncOnce(shut_down_, &report));
  return report;
}

Result<std::string> SyncSession::FetchBlob(const std::string& sha256, const std::string& path) {
  FB_RETURN_IF_ERROR(CheckUsable());
  if (OnSyncThread()) return Status(ErrorCode::kInvalidArgument, "a blob cannot be fetched from sync callbacks");
  if (!IsSha256Hex(sha256)) return Status(ErrorCode::kInvalidArgument, "must be 64 lower-case hex digits", "sha256");
  // Like a sync: one transfer at a time, the database's lock released while waiting on
  // the network (see SyncOnce).
  MutexLock one_at_a_time(sync_mu_);
  const RunThreadMark on_sync_thread(run_thread_);
  sync::BlobTransferOptions options;
  {
    MutexLock lock(mu_);
    options.token = token_;
  }
  std::unique_lock<Mutex> db_lock(db_->mu());
  Store* store = [&]() FB_NO_THREAD_SAFETY_ANALYSIS { return db_->store(); }();
  if (store == nullptr) return Status(ErrorCode::kInvalidArgument, "the database is closed");
  auto held = sync::GetLocalBlob(*store, sha256);
  std::string bytes;
  const char* source = "local";
  if (held.ok() && *held) {
    bytes = std::move(**held);
  } else {  // not here, or a damaged copy: sync::FetchBlob downloads it (or says why not)
    const TransportWindow window(transport_, &shut_down_, [&] { db_lock.unlock(); }, [&] { db_lock.lock(); });
    auto fetched = sync::FetchBlob(*store, transport_, sha256, options);
    if (!fetched.ok()) {
      if (shut_down_.load()) return Status(ErrorCode::kCancelled, "blob download cancelled; it resumes next time");
      return fetched.status();
    }
    bytes = std::move(*fetched);
    source = "server";
  }
  db_lock.unlock();
  FB_RETURN_IF_ERROR(sync::WriteFileBytes(path, bytes, "path"));
  return BlobResultJson(sha256, bytes.size(), source);
}

void SyncSession::Shutdown() {
  shut_down_.store(true);
  transport_.Wake();
  scheduler_->Stop();
  MutexLock wait_for_run(sync_mu_);  // a Run() in progress sees shut_down_ and ends
  db_->DetachSession(this);
}

Status SyncSession::SyncOnce(const std::atomic<bool>& cancel, sync::SyncReport* report) {
  MutexLock one_at_a_time(sync_mu_);
  const RunThreadMark on_sync_thread(run_thread_);
  if (cancel.load()) return Status(ErrorCode::kCancelled, "sync cancelled before it started");
  std::string token;
  {
    MutexLock lock(mu_);
    token = token_;
  }

  Mutex& db_mu = db_->mu();
  std::unique_lock<Mutex> db_lock(db_mu);
  // The database cannot close under us: Database::Close shuts this session down first,
  // which waits for sync_mu_.
  Store* store = [&]() FB_NO_THREAD_SAFETY_ANALYSIS { return db_->store(); }();
  if (store == nullptr) return Status(ErrorCode::kInvalidArgument, "the database is closed");
  FB_RETURN_IF_ERROR(Archive::LoadProfile(*store).status());

  auto take_remote = [&]() FB_NO_THREAD_SAFETY_ANALYSIS { return db_->changes().TakeJson("remote"); };
  const TransportWindow window(transport_, &cancel, [&] { db_lock.unlock(); }, [&] { db_lock.lock(); });

  sync::SyncClient client(*store, transport_);
  sync::SyncOptions options;
  options.token = token;
  options.page_limit = page_limit_;
  options.cancel = &cancel;
  options.progress = [&](const sync::SyncProgress& p) {
    const std::string changes = take_remote();
    db_lock.unlock();
    db_->Notify(changes);
    if (callbacks_.on_progress != nullptr) {
      callbacks_.on_progress(callbacks_.context, p.pushed, p.pulled, p.round_trips, p.more);
    }
    db_lock.lock();
  };
  auto result = client.Sync(options);
  const std::string changes = take_remote();
  db_lock.unlock();
  db_->Notify(changes);
  if (!result.ok()) {
    if (cancel.load()) return Status(ErrorCode::kCancelled, "sync cancelled; nothing lost, it resumes next time");
    return result.status();
  }
  *report = *result;
  MutexLock lock(mu_);
  last_report_ = *result;
  return Status::Ok();
}

void SyncSession::ReportState(SyncPhase phase, const Status& last_error) {
  if (callbacks_.on_state == nullptr) return;
  fieldbook_error error{};
  if (!last_error.ok()) FillError(&error, last_error);
  callbacks_.on_state(callbacks_.context, static_cast<int32_t>(phase), last_error.ok() ? nullptr : &error);
}

Result<std::string> SyncSession::StatusJson() {
  FB_RETURN_IF_ERROR(CheckUsable());
  const SchedulerStatus s = scheduler_->GetStatus();
  int64_t pending = 0;
  {
    MutexLock lock(db_->mu());
    Store* store = db_->store();
    if (store == nullptr) return Status(ErrorCode::kInvalidArgument, "the database is closed");
    FB_ASSIGN_OR_RETURN(pending, sync::PendingRowCount(*store));
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("state");
  w.String(SyncPhaseName(s.phase));
  w.Key("online");
  w.Bool(s.online);
  w.Key("failures");
  w.Int(s.failures);
  w.Key("next_sync_in_ms");
  if (s.next_sync_in) {
    w.Int64(s.next_sync_in->count());
  } else {
    w.Null();
  }
  w.Key("pending_rows");
  w.Int64(pending);
  w.Key("last_error");
  WriteStatus(w, s.last_error);
  w.Key("last_report");
  {
    MutexLock lock(mu_);
    if (last_report_) {
      WriteReport(w, *last_report_);
    } else {
      w.Null();
    }
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook::platform
