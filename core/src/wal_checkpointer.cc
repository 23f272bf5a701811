#include "fieldbook/core/wal_checkpointer.h"

#include <sqlite3.h>

#include <system_error>

namespace fieldbook {

std::unique_ptr<WalCheckpointer> WalCheckpointer::Start(sqlite3* db) {
  if (std::thread::hardware_concurrency() == 1) return nullptr;
  const char* file = sqlite3_db_filename(db, "main");
  if (file == nullptr || *file == '\0') return nullptr;  // in memory
  return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(file));
}

WalCheckpointer::WalCheckpointer(std::string file) : file_(std::move(file)) {}

WalCheckpointer::~WalCheckpointer() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  sqlite3_close(own_);
}

void WalCheckpointer::Watch(sqlite3* db) { sqlite3_wal_hook(db, &WalCheckpointer::OnCommit, this); }

void WalCheckpointer::Unwatch(sqlite3* db, int frames) { sqlite3_wal_autocheckpoint(db, frames); }

bool WalCheckpointer::Open() {
  if (sqlite3_open_v2(file_.c_str(), &own_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    return false;
  }
  // A checkpoint that meets a busy database is simply tried again at the next commit.
  sqlite3_busy_timeout(own_, 0);
  // Reading the mode opens the WAL on this connection; a checkpoint would not before.
  bool wal = false;
  sqlite3_stmt* mode = nullptr;
  if (sqlite3_prepare_v2(own_, "PRAGMA journal_mode", -1, &mode, nullptr) == SQLITE_OK && sqlite3_step(mode) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(mode, 0));
    wal = text && sqlite3_stricmp(text, "wal") == 0;
  }
  sqlite3_finalize(mode);
  if (!wal) return false;
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error&) {  // no thread
    return false;
  }
  return true;
}

int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char*, int frames) {
  if (frames < kFrames) return SQLITE_OK;
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  std::unique_lock<std::mutex> lock(checkpointer->mu_);
  if (!checkpointer->opened_) {
    // Opened at the first commit that needs it: most uses (a sync with little to pull)
    // never do, and pay nothing for a connection and a thread.
    checkpointer->opened_ = true;
    checkpointer->usable_ = checkpointer->Open();
  }
  if (!checkpointer->usable_) {
    lock.unlock();
    Unwatch(db);  // the connection checkpoints itself again
    return SQLITE_OK;
  }
  checkpointer->due_ = true;
  lock.unlock();
  checkpointer->cv_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return due_ || stop_; });
    if (stop_) return;
    due_ = false;
    lock.unlock();
    // Busy (another checkpoint) or failed: the next commit past the threshold asks again.
    (void)sqlite3_wal_checkpoint_v2(own_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

}  // namespace fieldbook
