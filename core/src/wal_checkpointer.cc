#include "fieldbook/core/wal_checkpointer.h"

#include <sqlite3.h>

#include <system_error>

namespace fieldbook {

std::unique_ptr<WalCheckpointer> WalCheckpointer::Start(sqlite3* db) {
  if (std::thread::hardware_concurrency() == 1) return nullptr;
  const char* file = sqlite3_db_filename(db, "main");
  if (file == nullptr || *file == '\0') return nullptr;  // in memory
  sqlite3* own = nullptr;
  if (sqlite3_open_v2(file, &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    sqlite3_close(own);
    return nullptr;
  }
  // A checkpoint that meets a busy database is simply tried again at the next commit.
  sqlite3_busy_timeout(own, 0);
  // Reading the mode opens the WAL on this connection; a checkpoint would not before.
  bool wal = false;
  sqlite3_stmt* mode = nullptr;
  if (sqlite3_prepare_v2(own, "PRAGMA journal_mode", -1, &mode, nullptr) == SQLITE_OK && sqlite3_step(mode) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(mode, 0));
    wal = text && sqlite3_stricmp(text, "wal") == 0;
  }
  sqlite3_finalize(mode);
  if (!wal) {
    sqlite3_close(own);
    return nullptr;
  }
  try {
    return std::unique_ptr<WalCheckpointer>(new WalCheckpointer(own));
  } catch (const std::system_error&) {  // no thread
    sqlite3_close(own);
    return nullptr;
  }
}

WalCheckpointer::WalCheckpointer(sqlite3* own) : own_(own), thread_([this] { Run(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  sqlite3_close(own_);
}

void WalCheckpointer::Watch(sqlite3* db) { sqlite3_wal_hook(db, &WalCheckpointer::OnCommit, this); }

void WalCheckpointer::Unwatch(sqlite3* db, int frames) { sqlite3_wal_autocheckpoint(db, frames); }

int WalCheckpointer::OnCommit(void* self, sqlite3*, const char*, int frames) {
  if (frames < kFrames) return SQLITE_OK;
  auto* checkpointer = static_cast<WalCheckpointer*>(self);
  {
    std::lock_guard<std::mutex> lock(checkpointer->mu_);
    checkpointer->due_ = true;
  }
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
