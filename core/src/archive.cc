#include "fieldbook/core/archive.h"

#include <sqlite3.h>

#include <algorithm>

#include "archive_rules.h"
#include "fieldbook/core/audit.h"
#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/encryption.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/pinyin.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/core/validation.h"

namespace fieldbook {
namespace {

constexpr std::string_view kAgentKey = "agent_id";
constexpr std::string_view kTeamKey = "team_id";

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

std::string Finish(const rapidjson::StringBuffer& buf) { return std::string(buf.GetString(), buf.GetSize()); }

// LIKE pattern for a literal substring ('\' escapes % and _).
std::string LikePattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

// Full-text query that every row holding `text` as a substring matches: each distinct
// three-character piece of it as its own term (the trigram index stores no positions, so
// phrases are not available). Empty when the text is too short for the index or is not
// valid UTF-8; the LIKE filter alone then decides.
std::string TrigramQuery(std::string_view text) {
  constexpr size_t kMaxTerms = 32;  // any subset of the pieces still selects a superset
  if (!IsValidUtf8(text) || text.find('\0') != std::string_view::npos) return {};
  std::vector<size_t> starts;  // byte offset of each character
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    starts.push_back(i);
    i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  }
  starts.push_back(text.size());
  std::vector<std::string_view> terms;
  for (size_t k = 0; k + 3 < starts.size() && terms.size() < kMaxTerms; ++k) {
    const std::string_view piece = text.substr(starts[k], starts[k + 3] - starts[k]);
    if (std::find(terms.begin(), terms.end(), piece) == terms.end()) terms.push_back(piece);
  }
  std::string query;
  for (std::string_view piece : terms) {
    if (!query.empty()) query += " AND ";
    query += '"';
    for (char c : piece) {
      if (c == '"') query += '"';  // a quote inside a string is doubled
      query += c;
    }
    query += '"';
  }
  return query;
}

// Rows of `table` selected by `where` (with `binds`), written as a JSON array.
Status WriteRows(Store& store, const TableSpec& t, const std::string& where, const std::vector<Value>& binds,
                 const std::string& order, JsonWriter& w, int limit = 0, int offset = 0) {
  std::string sql = SelectRowSql(t) + where + order;
  if (limit > 0) sql += " LIMIT " + std::to_string(limit) + " OFFSET " + std::to_string(std::max(0, offset));
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
  for (size_t i = 0; i < binds.size(); ++i) st.Bind(static_cast<int>(i) + 1, binds[i]);
  return WriteRowsJson(t, st, w);
}

// Ids (a JSON array) of the customers one of whose phones contains `text`, in a profile
// whose phones are encrypted.
Result<std::string> EncryptedPhoneMatches(Store& store, const std::string& text) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT id, phones FROM customers WHERE phones IS NOT NULL"));
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const Value phones = OpenCell(&store, st.GetValue(1));
    const std::string* plain = AsText(phones);
    if (plain && plain->find(text) != std::string::npos) {
      const std::string_view id = st.Text(0);
      w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
    }
  }
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

Archive::Archive(Store& store) : store_(store), records_(store, ArchiveRules()) {}

Status RefreshSearchIndex(Store& store) {
  // A read-only connection cannot index; its searches also read the stale customers.
  if (sqlite3_db_readonly(store.handle(), "main") == 1) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Statement any, store.Prepare("SELECT EXISTS (SELECT 1 FROM fb_customer_fts_stale)"));
  FB_ASSIGN_OR_RETURN(bool row, any.Step());
  if (!row || any.Int(0) == 0) return Status::Ok();
  any.Reset();
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  FB_RETURN_IF_ERROR(store.Exec(
      "INSERT INTO fb_customer_fts(rowid, name, phones, notes) SELECT c.rowid, c.name, c.phones, c.notes "
      "FROM fb_customer_fts_stale s JOIN customers c ON c.rowid = s.rowid ORDER BY s.rowid; "
      "DELETE FROM fb_customer_fts_stale"));
  return txn.Commit();
}

Status Archive::Init(Store& store, std::string_view agent, std::string_view team) {
  if (agent.empty() || agent.size() > 128) {
    return Status(ErrorCode::kInvalidArgument, "agent id must be 1 to 128 characters", "agent");
  }
  if (team.size() > 128) return Status(ErrorCode::kInvalidArgument, "team id must be at most 128 characters", "team");
  FB_ASSIGN_OR_RETURN(std::optional<std::string> existing, store.GetSetting(kAgentKey));
  if (existing && *existing != agent) {
    return Status(ErrorCode::kAlreadyInitialized,
                  "this profile belongs to agent " + *existing + "; use another --db file for " + std::string(agent));
  }
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  FB_RETURN_IF_ERROR(store.SetSetting(kAgentKey, agent));
  if (!team.empty()) FB_RETURN_IF_ERROR(store.SetSetting(kTeamKey, team));
  return txn.Commit();
}

Result<Profile> Archive::LoadProfile(Store& store) {
  FB_ASSIGN_OR_RETURN(std::optional<std::string> agent, store.GetSetting(kAgentKey));
  if (!agent) {
    return Status(ErrorCode::kNotInitialized,
                  "profile " + store.path() + " has no agent yet (run `fieldbook --db FILE init --agent ID`)");
  }
  FB_ASSIGN_OR_RETURN(std::optional<std::string> team, store.GetSetting(kTeamKey));
  return Profile{*agent, team.value_or("")};
}

Result<WriteContext> Archive::Context() {
  FB_ASSIGN_OR_RETURN(Profile p, LoadProfile(store_));
  return WriteContext{p.agent, p.team, store_.env().NowMs()};
}

namespace {

// The server takes team-wide rows only from a lead or admin and tenant-wide rows only from
// an admin, and refuses the whole batch otherwise; refusing here keeps such a write from
// blocking every later sync of the profile.
Status CheckRoleMayWrite(Store& store, const TableSpec& t) {
  if (t.partition.kind != PartitionKind::kTeam && t.partition.kind != PartitionKind::kTenant) return Status::Ok();
  FB_ASSIGN_OR_RETURN(std::string role, ProfileRole(store));
  const bool allowed = role == "admin" || (t.partition.kind == PartitionKind::kTeam && role == "lead");
  if (allowed) return Status::Ok();
  return Status(ErrorCode::kForbidden, std::string("only ") +
                                           (t.partition.kind == PartitionKind::kTeam ? "a team lead or an admin" : "an admin") +
                                           " may change " + t.name + "; this profile's role is " + role +
                                           " (set with init --role)");
}

}  // namespace

Result<const TableSpec*> Archive::ArchiveTable(std::string_view name) const {
  const TableSpec* t = store_.registry().Find(name);
  if (!t) return Status(ErrorCode::kInvalidArgument, "no archive table named \"" + std::string(name) + "\"");
  return t;
}

Result<std::string> Archive::AddInTxn(const TableSpec& t, const rapidjson::Value& obj, std::string_view customer_id,
                                      const WriteContext& ctx) {
  FB_ASSIGN_OR_RETURN(RowValues row, records_.FromJson(t, obj));
  if (!customer_id.empty() && t.IndexOf("customer_id") >= 0) {
    auto given = row.Text("customer_id");
    if (given && *given != customer_id) {
      return Status(ErrorCode::kInvalidField, "differs from the customer named on the command line", "customer_id");
    }
    row.Set("customer_id", Value{std::string(customer_id)});
  }
  return records_.Insert(std::move(row), ctx);
}

Result<std::string> Archive::Add(std::string_view table, std::string_view json, std::string_view customer_id) {
  FB_ASSIGN_OR_RETURN(const TableSpec* t, ArchiveTable(table));
  FB_RETURN_IF_ERROR(CheckRoleMayWrite(store_, *t));
  FB_ASSIGN_OR_RETURN(WriteContext ctx, Context());
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  // A policy may bring its roles and group roster along.
  rapidjson::Value roles, members;
  if (t->name == "policies") {
    for (const char* key : {"roles", "members"}) {
      if (!doc.HasMember(key)) continue;
      if (!doc[key].IsArray()) return Status(ErrorCode::kInvalidField, "must be an array", key);
      (std::string_view(key) == "roles" ? roles : members) = doc[key].Move();
      doc.RemoveMember(key);
    }
  }
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_ASSIGN_OR_RETURN(std::string id, AddInTxn(*t, doc, customer_id, ctx));
  if (t->name == "policies") {
    FB_ASSIGN_OR_RETURN(std::optional<RowValues> policy, records_.Get("policies", id));
    const std::string owner = policy->Text("customer_id").value_or("");
    auto add_children = [&](const rapidjson::Value& list, const char* child_table, const char* label) -> Status {
      if (!list.IsArray()) return Status::Ok();
      const TableSpec& ct = records_.Table(child_table);
      for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
        const std::string prefix = std::string(label) + "[" + std::to_string(i) + "]";
        if (!list[i].IsObject()) return Status(ErrorCode::kInvalidField, "must be an object", prefix);
        auto row = records_.FromJson(ct, list[i]);
        if (!row.ok()) return row.status().WithFieldPrefix(prefix);
        row->Set("customer_id", Value{owner});
        row->Set("policy_id", Value{id});
        auto child = records_.Insert(std::move(row).value(), ctx);
        if (!child.ok()) return child.status().WithFieldPrefix(prefix);
      }
      return Status::Ok();
    };
    if (!roles.IsArray()) {
      // Without explicit roles the customer is the policyholder.
      FB_ASSIGN_OR_RETURN(std::optional<RowValues> customer, records_.Get("customers", owner));
      RowValues role(records_.Table("policy_roles"));
      role.Set("customer_id", Value{owner});
      role.Set("policy_id", Value{id});
      role.Set("role", Value{std::string("policyholder")});
      role.Set("party_type", Value{std::string("customer")});
      role.Set("party_id", Value{owner});
      role.Set("party_name", Value{customer->Text("name").value_or("")});
      FB_RETURN_IF_ERROR(records_.Insert(std::move(role), ctx).status());
    }
    FB_RETURN_IF_ERROR(add_children(roles, "policy_roles", "roles"));
    FB_RETURN_IF_ERROR(add_children(members, "group_members", "members"));
  }
  FB_RETURN_IF_ERROR(txn.Commit());
  return id;
}

Status Archive::Set(std::string_view table, std::string_view id, std::string_view json) {
  FB_ASSIGN_OR_RETURN(const TableSpec* t, ArchiveTable(table));
  FB_RETURN_IF_ERROR(CheckRoleMayWrite(store_, *t));
  FB_ASSIGN_OR_RETURN(WriteContext ctx, Context());
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  if (doc.HasMember("id")) {
    if (!doc["id"].IsString() || doc["id"].GetString() != id) {
      return Status(ErrorCode::kReadOnlyField, "a record's id cannot change", "id");
    }
    doc.RemoveMember("id");
  }
  FB_ASSIGN_OR_RETURN(RowValues patch, records_.FromJson(*t, doc));
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_RETURN_IF_ERROR(records_.Update(t->name, id, patch, ctx));
  return txn.Commit();
}

Status Archive::Remove(std::string_view table, std::string_view id) {
  FB_ASSIGN_OR_RETURN(const TableSpec* t, ArchiveTable(table));
  FB_RETURN_IF_ERROR(CheckRoleMayWrite(store_, *t));
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin());
  FB_RETURN_IF_ERROR(records_.Delete(t->name, id));
  return txn.Commit();
}

Result<std::string> Archive::Show(std::string_view table, std::string_view id) {
  FB_ASSIGN_OR_RETURN(const TableSpec* t, ArchiveTable(table));
  FB_ASSIGN_OR_RETURN(std::optional<RowValues> row, records_.Get(t->name, id));
  if (!row) return Status(ErrorCode::kNotFound, "no " + t->name + " row with id " + std::string(id));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteRowJson(*row, w);
  return Finish(buf);
}

Result<std::string> Archive::List(const ListQuery& q) {
  FB_ASSIGN_OR_RETURN(const TableSpec* t, ArchiveTable(q.table));
  std::string where;
  std::vector<Value> binds;
  auto add = [&](const std::string& clause) { where += (where.empty() ? " WHERE " : " AND ") + clause; };
  if (!q.customer_id.empty()) {
    if (t->IndexOf("customer_id") < 0) return Status(ErrorCode::kInvalidArgument, t->name + " rows have no customer");
    binds.emplace_back(q.customer_id);
    add("customer_id = ?" + std::to_string(binds.size()));
  }
  if (!q.search.empty()) {
    if (t->name != "customers") return Status(ErrorCode::kInvalidArgument, "search applies to customers");
    // The trigram index narrows the rows down (a LIKE with ESCAPE cannot use it); the LIKE
    // then decides exactly, with % and _ in the text taken literally.
    // Pinyin keys ("zs", "zhangsan") match too, through the local pinyin index.
    std::string pinyin, pinyin_rows;
    if (PinyinAvailable() && !(pinyin = PinyinQuery(q.search)).empty()) {
      FB_RETURN_IF_ERROR(RefreshPinyinIndex(store_));
      binds.emplace_back("%|" + pinyin + "%");
      pinyin_rows = "SELECT rowid FROM fb_customer_pinyin WHERE keys LIKE ?" + std::to_string(binds.size());
      pinyin = "rowid IN (" + pinyin_rows + ")";
    }
    const std::string or_pinyin = pinyin.empty() ? "" : " OR " + pinyin;
    if (store_.cipher()) {
      // Phones are stored encrypted: the index and LIKE see only ciphertext, so phones
      // are matched by opening them (about a microsecond each); names and notes as usual.
      FB_ASSIGN_OR_RETURN(std::string phone_ids, EncryptedPhoneMatches(store_, q.search));
      binds.emplace_back(std::move(phone_ids));
      const std::string ids = "?" + std::to_string(binds.size());
      binds.emplace_back(LikePattern(q.search));
      const std::string p = "?" + std::to_string(binds.size());
      add("(name LIKE " + p + " ESCAPE '\\' OR notes LIKE " + p + " ESCAPE '\\' OR id IN (SELECT value FROM json_each(" +
          ids + "))" + or_pinyin + ")");
    } else {
      if (std::string match = TrigramQuery(q.search); !match.empty()) {
        FB_RETURN_IF_ERROR(RefreshSearchIndex(store_));
        binds.emplace_back(std::move(match));
        // Customers not indexed yet (none, unless the connection is read-only) are
        // candidates too; the LIKE below decides.
        add("rowid IN (SELECT rowid FROM fb_customer_fts WHERE fb_customer_fts MATCH ?" +
            std::to_string(binds.size()) + " UNION SELECT rowid FROM fb_customer_fts_stale" +
            (pinyin.empty() ? ")" : " UNION " + pinyin_rows + ")"));
      }
      binds.emplace_back(LikePattern(q.search));
      const std::string p = "?" + std::to_string(binds.size());
      add("(name LIKE " + p + " ESCAPE '\\' OR phones LIKE " + p + " ESCAPE '\\' OR notes LIKE " + p +
          " ESCAPE '\\'" + or_pinyin + ")");
    }
  }
  for (const auto& [column, value] : q.equals) {
    if (t->IndexOf(column) < 0) return Status(ErrorCode::kUnknownField, "no such field in " + t->name, column);
    binds.push_back(value);
    add(QuoteIdent(column) + " = ?" + std::to_string(binds.size()));
  }
  if (!q.due_before.empty()) {
    if (t->IndexOf("due_date") < 0) return Status(ErrorCode::kInvalidArgument, t->name + " rows have no due date");
    FB_RETURN_IF_ERROR(ParseDate(q.due_before).status().WithFieldPrefix("due"));
    binds.emplace_back(q.due_before);
    add("due_date <= ?" + std::to_string(binds.size()));
  }
  std::string order = " ORDER BY id";
  if (!q.sort.empty() && (t->name != "customers" || q.sort != "name")) {
    return Status(ErrorCode::kInvalidArgument, "only customers sort by name", "sort");
  }
  if (q.sort == "name") {
    if (!PinyinAvailable()) {
      return Status(ErrorCode::kUnavailable, "Chinese (pinyin) sort is unavailable: built without ICU", "sort");
    }
    FB_RETURN_IF_ERROR(RefreshPinyinIndex(store_));
    order = " ORDER BY (SELECT sort_key FROM fb_customer_pinyin k WHERE k.rowid = " + QuoteIdent(t->name) +
            ".rowid), name, id";
  } else if (t->name == "customers") order = " ORDER BY name, id";
  else if (t->name == "tasks") order = " ORDER BY due_date, id";
  else if (t->name == "visits") order = " ORDER BY visited_at DESC, id";
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  FB_RETURN_IF_ERROR(WriteRows(store_, *t, where, binds, order, w, q.limit, q.offset));
  return Finish(buf);
}

Result<std::string> Archive::CustomerArchive(std::string_view customer_id) {
  FB_ASSIGN_OR_RETURN(Transaction txn, store_.Begin(TxnMode::kDeferred));  // one consistent snapshot
  FB_ASSIGN_OR_RETURN(std::optional<RowValues> customer, records_.Get("customers", customer_id));
  if (!customer) return Status(ErrorCode::kNotFound, "no customer with id " + std::string(customer_id));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("customer");
  WriteRowJson(*customer, w);
  const std::vector<Value> binds{Value{std::string(customer_id)}};
  for (const auto& t : store_.registry().tables()) {
    if (t.name == "customers" || t.IndexOf("customer_id") < 0) continue;
    w.Key(t.name.c_str());
    FB_RETURN_IF_ERROR(WriteRows(store_, t, " WHERE customer_id = ?1", binds, " ORDER BY id", w));
  }
  w.EndObject();
  FB_RETURN_IF_ERROR(txn.Commit());
  return Finish(buf);
}

Status Archive::CompleteTask(std::string_view task_id) { return Set("tasks", task_id, R"({"done":true})"); }

Result<std::string> ExportJson(Store& store, const std::vector<const TableSpec*>& tables) {
  // The access audit is not part of the book of business: every export adds to it, so
  // including it would make no two exports alike. `fieldbook audit` lists it.
  std::vector<const TableSpec*> sorted;
  for (const TableSpec* t : tables) {
    if (t->name != kAccessAuditTable) sorted.push_back(t);
  }
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->name < b->name; });
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin(TxnMode::kDeferred));
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  for (const TableSpec* t : sorted) {
    w.Key(t->name.c_str());
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(SelectRowSql(*t) + " ORDER BY id"));
    w.StartArray();
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      WriteRowJson(ReadRow(*t, st), w, /*canonical=*/true);
    }
    w.EndArray();
  }
  w.EndObject();
  FB_RETURN_IF_ERROR(txn.Commit());
  return Finish(buf);
}

}  // namespace fieldbook
