#include "fieldbook/core/bulk_insert.h"

#include <algorithm>
#include <cctype>

#include <sqlite3.h>

namespace fieldbook {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The tokens of a CREATE TRIGGER statement up to its event: words and quoted names, with
// comments skipped. Enough to find the event; anything unexpected ends the scan.
class TriggerTokens {
 public:
  explicit TriggerTokens(std::string_view sql) : sql_(sql) {}

  // The next token (a quoted name with its quotes), empty at the end or on a malformed one.
  std::string_view Next() {
    SkipSpace();
    if (at_ >= sql_.size()) return {};
    const size_t start = at_;
    const char c = sql_[at_];
    const char close = c == '"' ? '"' : c == '`' ? '`' : c == '[' ? ']' : c == '\'' ? '\'' : '\0';
    if (close) {
      for (++at_; at_ < sql_.size(); ++at_) {
        if (sql_[at_] != close) continue;
        if (close != ']' && at_ + 1 < sql_.size() && sql_[at_ + 1] == close) {
          ++at_;  // a doubled quote inside the name
          continue;
        }
        ++at_;
        return sql_.substr(start, at_ - start);
      }
      return {};
    }
    if (c == '.') return sql_.substr(at_++, 1);
    while (at_ < sql_.size() && (std::isalnum(static_cast<unsigned char>(sql_[at_])) || sql_[at_] == '_' ||
                                 static_cast<unsigned char>(sql_[at_]) >= 0x80)) {
      ++at_;
    }
    if (at_ == start) return {};
    return sql_.substr(start, at_ - start);
  }

 private:
  void SkipSpace() {
    while (at_ < sql_.size()) {
      if (std::isspace(static_cast<unsigned char>(sql_[at_]))) {
        ++at_;
      } else if (sql_.compare(at_, 2, "--") == 0) {
        const size_t end = sql_.find('\n', at_);
        at_ = end == std::string_view::npos ? sql_.size() : end + 1;
      } else if (sql_.compare(at_, 2, "/*") == 0) {
        const size_t end = sql_.find("*/", at_ + 2);
        at_ = end == std::string_view::npos ? sql_.size() : end + 2;
      } else {
        return;
      }
    }
  }

  std::string_view sql_;
  size_t at_ = 0;
};

Status ConfigError(Store& store, const char* what) {
  return Status(ErrorCode::kSqliteError, std::string(what) + ": " + sqlite3_errmsg(store.handle()));
}

}  // namespace

bool TriggerMayFireOnInsert(std::string_view sql) {
  TriggerTokens tokens(sql);
  std::string_view t = tokens.Next();
  if (!SameName(t, "create")) return true;
  t = tokens.Next();
  if (SameName(t, "temp") || SameName(t, "temporary")) t = tokens.Next();
  if (!SameName(t, "trigger")) return true;
  t = tokens.Next();
  if (SameName(t, "if")) {
    if (!SameName(tokens.Next(), "not") || !SameName(tokens.Next(), "exists")) return true;
    t = tokens.Next();
  }
  if (t.empty()) return true;  // the name
  t = tokens.Next();
  if (t == ".") {  // schema.name
    if (tokens.Next().empty()) return true;
    t = tokens.Next();
  }
  if (SameName(t, "before") || SameName(t, "after")) {
    t = tokens.Next();
  } else if (SameName(t, "instead")) {
    if (!SameName(tokens.Next(), "of")) return true;
    t = tokens.Next();
  }
  return !(SameName(t, "update") || SameName(t, "delete"));
}

Result<std::optional<BulkInsertPlan>> BulkInsertPlan::For(Store& store, std::string_view table,
                                                          const std::vector<std::string>& no_ops) {
  const auto& forms = store.registry().bulk_forms();
  BulkInsertPlan plan;
  std::vector<std::string> schemas = {"main"};
  // Before 3.35 turning triggers off silenced TEMP triggers too: they must then be none.
  if (sqlite3_libversion_number() < 3035000) schemas.push_back("temp");
  for (const std::string& schema : schemas) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT name, sql FROM " + schema + ".sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE"));
    st.Bind(1, std::string(table));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const std::string name = st.String(0);
      if (st.IsNull(1)) return std::optional<BulkInsertPlan>();
      if (!TriggerMayFireOnInsert(st.Text(1))) continue;
      if (std::any_of(no_ops.begin(), no_ops.end(), [&](const std::string& n) { return SameName(n, name); })) continue;
      auto form = std::find_if(forms.begin(), forms.end(), [&](const InsertTriggerBulkForm& f) {
        return schema == "main" && SameName(f.table, table) && SameName(f.trigger, name);
      });
      if (form == forms.end()) return std::optional<BulkInsertPlan>();
      plan.bulk_.push_back(form->bulk);
    }
  }
  return std::optional<BulkInsertPlan>(std::move(plan));
}

Status BulkInsertPlan::Finish(Store& store, int64_t first, int64_t last) const {
  if (first > last) return Status::Ok();
  for (const std::string& sql : bulk_) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
    FB_RETURN_IF_ERROR(st.Bind(1, first).Bind(2, last).Run());
  }
  return Status::Ok();
}

Result<TriggersOff> TriggersOff::Begin(Store& store) {
  int now = 1;
  if (sqlite3_db_config(store.handle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &now) != SQLITE_OK || now != 0) {
    return ConfigError(store, "could not turn triggers off");
  }
  return TriggersOff(&store);
}

TriggersOff::TriggersOff(TriggersOff&& other) noexcept : store_(other.store_) { other.store_ = nullptr; }

TriggersOff::~TriggersOff() { (void)End(); }

Status TriggersOff::End() {
  if (!store_) return Status::Ok();
  Store& store = *store_;
  store_ = nullptr;
  int now = 0;
  if (sqlite3_db_config(store.handle(), SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, &now) != SQLITE_OK || now != 1) {
    return ConfigError(store, "could not turn triggers back on");
  }
  return Status::Ok();
}

}  // namespace fieldbook
