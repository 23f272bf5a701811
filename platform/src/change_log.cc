#include "change_log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sqlite3.h>

namespace fieldbook::platform {

void ChangeLog::Attach(sqlite3* db, std::set<std::string, std::less<>> tables) {
  Detach();
  db_ = db;
  tables_ = std::move(tables);
  sqlite3_update_hook(db_, &ChangeLog::OnUpdate, this);
  sqlite3_commit_hook(db_, &ChangeLog::OnCommit, this);
  sqlite3_rollback_hook(db_, &ChangeLog::OnRollback, this);
}

void ChangeLog::Detach() {
  if (db_ == nullptr) return;
  sqlite3_update_hook(db_, nullptr, nullptr);
  sqlite3_commit_hook(db_, nullptr, nullptr);
  sqlite3_rollback_hook(db_, nullptr, nullptr);
  db_ = nullptr;
  pending_.clear();
  committed_.clear();
}

void ChangeLog::OnUpdate(void* self, int op, const char* database, const char* table, long long /*rowid*/) {
  auto* log = static_cast<ChangeLog*>(self);
  if (std::string_view(database) != "main") return;
  auto known = log->tables_.find(std::string_view(table));
  if (known == log->tables_.end()) return;
  // The hook must not throw into SQLite; a failed allocation only loses a hint.
  try {
    Counts& c = log->pending_[*known];
    if (op == SQLITE_INSERT) ++c.inserted;
    else if (op == SQLITE_UPDATE) ++c.updated;
    else if (op == SQLITE_DELETE) ++c.deleted;
  } catch (...) {
  }
}

int ChangeLog::OnCommit(void* self) {
  auto* log = static_cast<ChangeLog*>(self);
  try {
    for (const auto& [table, counts] : log->pending_) {
      Counts& c = log->committed_[table];
      c.inserted += counts.inserted;
      c.updated += counts.updated;
      c.deleted += counts.deleted;
    }
  } catch (...) {
  }
  log->pending_.clear();
  return 0;  // let the commit proceed
}

void ChangeLog::OnRollback(void* self) { static_cast<ChangeLog*>(self)->pending_.clear(); }

std::string ChangeLog::TakeJson(std::string_view origin) {
  if (committed_.empty()) return {};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("origin");
  w.String(origin.data(), static_cast<rapidjson::SizeType>(origin.size()));
  w.Key("tables");
  w.StartObject();
  for (const auto& [table, c] : committed_) {
    w.Key(table.c_str());
    w.StartObject();
    w.Key("inserted");
    w.Int64(c.inserted);
    w.Key("updated");
    w.Int64(c.updated);
    w.Key("deleted");
    w.Int64(c.deleted);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  committed_.clear();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook::platform
