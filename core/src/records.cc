#include "fieldbook/core/records.h"

#include <algorithm>
#include <cmath>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/encryption.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/core/validation.h"

namespace fieldbook {

// ---------------------------------------------------------------- RowValues

bool RowValues::Has(std::string_view column) const {
  const int i = table->IndexOf(column);
  return i >= 0 && present[static_cast<size_t>(i)];
}

const Value* RowValues::Get(std::string_view column) const {
  const int i = table->IndexOf(column);
  if (i < 0 || !present[static_cast<size_t>(i)] || IsNull(values[static_cast<size_t>(i)])) return nullptr;
  return &values[static_cast<size_t>(i)];
}

std::optional<std::string> RowValues::Text(std::string_view column) const {
  const Value* v = Get(column);
  if (v == nullptr || !AsText(*v)) return std::nullopt;
  return *AsText(*v);
}

std::optional<int64_t> RowValues::Int(std::string_view column) const {
  const Value* v = Get(column);
  if (v == nullptr || !AsInt(*v)) return std::nullopt;
  return *AsInt(*v);
}

void RowValues::Set(std::string_view column, Value v) {
  const int i = table->IndexOf(column);
  if (i < 0) return;
  values[static_cast<size_t>(i)] = std::move(v);
  present[static_cast<size_t>(i)] = 1;
}

void RowValues::SetDefault(std::string_view column, Value v) {
  const int i = table->IndexOf(column);
  if (i >= 0 && (!present[static_cast<size_t>(i)] || IsNull(values[static_cast<size_t>(i)]))) {
    Set(column, std::move(v));
  }
}

// ---------------------------------------------------------------- values

namespace {

Status Invalid(std::string message) { return Status(ErrorCode::kInvalidField, std::move(message)); }

Status WrongType(const char* expected, const rapidjson::Value& v) {
  return Invalid(std::string("expected ") + expected + ", got " + JsonTypeName(v));
}

Result<int64_t> IntegerOf(const rapidjson::Value& v, const char* what) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsUint64()) return Invalid(std::string(what) + " is too large");
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (std::floor(d) == d && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
    return Invalid(std::string("expected a whole number for ") + what + ", got " + std::to_string(d));
  }
  return WrongType("a whole number", v);
}

Result<std::string> TextOf(const ColumnSpec& c, const rapidjson::Value& v) {
  if (!v.IsString()) return WrongType("a string", v);
  std::string s(v.GetString(), v.GetStringLength());
  if (s.size() > c.max_length) {
    return Invalid("longer than " + std::to_string(c.max_length) + " bytes (" + std::to_string(s.size()) + ")");
  }
  if (!IsValidUtf8(s)) return Invalid("not valid UTF-8");
  if (s.find('\0') != std::string::npos) return Invalid("contains a NUL character");
  return s;
}

}  // namespace

Result<Value> ColumnValueFromJson(const ColumnSpec& c, const rapidjson::Value& v) {
  if (v.IsNull()) {
    if (c.required) return Status(ErrorCode::kMissingField, "is required and may not be null");
    return Value{};
  }
  switch (c.format) {
    case Format::kPlain:
      if (c.type == SqlType::kInteger) {
        FB_ASSIGN_OR_RETURN(int64_t i, IntegerOf(v, "this field"));
        return Value{i};
      }
      if (c.type == SqlType::kReal) {
        if (!v.IsNumber()) return WrongType("a number", v);
        return Value{v.GetDouble()};
      }
      {
        FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
        return Value{std::move(s)};
      }
    case Format::kRef: {
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      if (!IsUuid(s)) return Invalid("not a record id (UUID)");
      return Value{std::move(s)};
    }
    case Format::kDate: {
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      FB_RETURN_IF_ERROR(ParseDate(s).status());
      return Value{std::move(s)};
    }
    case Format::kTimestamp: {
      if (v.IsString()) {
        FB_ASSIGN_OR_RETURN(int64_t ms, ParseTimestampMs(std::string_view(v.GetString(), v.GetStringLength())));
        return Value{ms};
      }
      FB_ASSIGN_OR_RETURN(int64_t ms, IntegerOf(v, "a timestamp"));
      if (ms < 0) return Invalid("timestamp before 1970");
      return Value{ms};
    }
    case Format::kBool:
      if (v.IsBool()) return Value{int64_t{v.GetBool() ? 1 : 0}};
      if (v.IsInt64() && (v.GetInt64() == 0 || v.GetInt64() == 1)) return Value{v.GetInt64()};
      return WrongType("true or false", v);
    case Format::kEnum: {
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      if (std::find(c.enum_values.begin(), c.enum_values.end(), s) == c.enum_values.end()) {
        std::string allowed;
        for (const auto& e : c.enum_values) allowed += (allowed.empty() ? "" : ", ") + e;
        return Invalid("not one of: " + allowed);
      }
      return Value{std::move(s)};
    }
    case Format::kMoney:
    case Format::kCount:
    case Format::kPercent: {
      FB_ASSIGN_OR_RETURN(int64_t i, IntegerOf(v, c.format == Format::kMoney ? "an amount in fen" : "a count"));
      if (i < 0) return Invalid("may not be negative");
      if (c.format == Format::kPercent && i > 100) return Invalid("a percentage is at most 100");
      return Value{i};
    }
    case Format::kPhone: {
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      FB_ASSIGN_OR_RETURN(std::string phone, NormalizePhone(s));
      return Value{std::move(phone)};
    }
    case Format::kPhoneList: {
      // Normalised numbers hold only digits, '+', spaces, dashes and brackets, so the JSON
      // array is written directly, with nothing to escape.
      std::string list = "[";
      auto add = [&](const rapidjson::Value& e, size_t index) -> Status {
        if (!e.IsString()) return WrongType("a phone number string", e).WithFieldPrefix("[" + std::to_string(index) + "]");
        auto phone = NormalizePhone(std::string_view(e.GetString(), e.GetStringLength()));
        if (!phone.ok()) return phone.status().WithFieldPrefix("[" + std::to_string(index) + "]");
        if (list.size() > 1) list += ',';
        list += '"';
        list += *phone;
        list += '"';
        return Status::Ok();
      };
      if (v.IsString()) {
        FB_RETURN_IF_ERROR(add(v, 0));
      } else if (v.IsArray()) {
        if (v.Size() > 20) return Invalid("at most 20 phone numbers");
        for (rapidjson::SizeType i = 0; i < v.Size(); ++i) FB_RETURN_IF_ERROR(add(v[i], i));
      } else {
        return WrongType("an array of phone numbers", v);
      }
      list += ']';
      return Value{std::move(list)};
    }
    case Format::kEmail: {
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      FB_RETURN_IF_ERROR(ValidateEmail(s));
      return Value{std::move(s)};
    }
    case Format::kIdNumber: {
      // Checked against id_type by the table rule, which sees the whole row.
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      if (s.empty()) return Invalid("empty identity document number");
      return Value{std::move(s)};
    }
    case Format::kCreditCode: {
      FB_ASSIGN_OR_RETURN(std::string s, TextOf(c, v));
      FB_ASSIGN_OR_RETURN(std::string code, NormalizeCreditCode(s));
      return Value{std::move(code)};
    }
    case Format::kJsonArray:
    case Format::kJsonObject: {
      const bool want_array = c.format == Format::kJsonArray;
      if (want_array ? !v.IsArray() : !v.IsObject()) {
        return WrongType(want_array ? "an array" : "an object", v);
      }
      std::string text = ToJson(v);
      if (text.size() > c.max_length) return Invalid("longer than " + std::to_string(c.max_length) + " bytes");
      return Value{std::move(text)};
    }
    case Format::kBlobRefs: {
      if (!v.IsArray()) return WrongType("an array of attachment hashes", v);
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        const rapidjson::Value& e = v[i];
        const rapidjson::Value* hash = &e;
        if (e.IsObject()) {
          auto it = e.FindMember("sha256");
          hash = it == e.MemberEnd() ? nullptr : &it->value;
        }
        if (!hash || !hash->IsString() || !IsSha256Hex(std::string_view(hash->GetString(), hash->GetStringLength()))) {
          return Invalid("not a lowercase hex SHA-256 or an object with a \"sha256\" field")
              .WithFieldPrefix("[" + std::to_string(i) + "]");
        }
      }
      std::string text = ToJson(v);
      if (text.size() > c.max_length) return Invalid("longer than " + std::to_string(c.max_length) + " bytes");
      return Value{std::move(text)};
    }
    case Format::kLatitude:
    case Format::kLongitude: {
      if (!v.IsNumber()) return WrongType("a number", v);
      const double d = v.GetDouble();
      const double limit = c.format == Format::kLatitude ? 90.0 : 180.0;
      if (!(d >= -limit && d <= limit)) return Invalid("out of range -" + std::to_string(static_cast<int>(limit)) +
                                                       ".." + std::to_string(static_cast<int>(limit)));
      return Value{d};
    }
  }
  return Invalid("unsupported column format");
}

void WriteColumnJson(const ColumnSpec& c, const Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (IsNull(v)) {
    w.Null();
    return;
  }
  if (const int64_t* i = AsInt(v)) {
    if (c.format == Format::kBool) {
      w.Bool(*i != 0);
    } else {
      w.Int64(*i);
    }
    return;
  }
  if (const double* d = std::get_if<double>(&v)) {
    w.Double(*d);
    return;
  }
  const std::string& s = *AsText(v);
  if (c.format == Format::kJsonArray || c.format == Format::kJsonObject || c.format == Format::kPhoneList ||
      c.format == Format::kBlobRefs) {
    rapidjson::Document doc;
    doc.Parse(s.data(), s.size());
    if (!doc.HasParseError()) {
      WriteCanonical(doc, w);
      return;
    }
  }
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void WriteRowJson(const RowValues& row, rapidjson::Writer<rapidjson::StringBuffer>& w, bool canonical) {
  const TableSpec& t = *row.table;
  std::vector<size_t> order(t.columns.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (canonical) {
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return t.columns[a].name < t.columns[b].name; });
  }
  w.StartObject();
  bool id_written = false;
  for (size_t i : order) {
    const ColumnSpec& c = t.columns[i];
    if (!id_written && (!canonical || c.name > "id")) {
      w.Key("id");
      w.String(row.id.c_str(), static_cast<rapidjson::SizeType>(row.id.size()));
      id_written = true;
    }
    w.Key(c.name.c_str(), static_cast<rapidjson::SizeType>(c.name.size()));
    WriteColumnJson(c, row.values[i], w);
  }
  if (!id_written) {
    w.Key("id");
    w.String(row.id.c_str(), static_cast<rapidjson::SizeType>(row.id.size()));
  }
  w.EndObject();
}

std::string SelectRowSql(const TableSpec& t) {
  std::string sql = "SELECT id";
  for (const auto& c : t.columns) sql += ", " + QuoteIdent(c.name);
  sql += " FROM " + QuoteIdent(t.name);
  return sql;
}

Value ReadCell(const TableSpec& t, const Statement& st, size_t index) {
  Value v = st.GetValue(static_cast<int>(index) + 1);
  if (IsEncryptedColumn(t.columns[index])) return OpenCell(st.store(), v);
  return v;
}

RowValues ReadRow(const TableSpec& t, const Statement& st) {
  RowValues row(t);
  row.id = st.String(0);
  for (size_t i = 0; i < t.columns.size(); ++i) {
    row.values[i] = ReadCell(t, st, i);
    row.present[i] = 1;
  }
  return row;
}

Status WriteRowsJson(const TableSpec& table, Statement& st, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  w.StartArray();
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    WriteRowJson(ReadRow(table, st), w);
  }
  w.EndArray();
  return Status::Ok();
}

Result<std::string> RowsJson(const TableSpec& table, Statement& st) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  FB_RETURN_IF_ERROR(WriteRowsJson(table, st, w));
  return std::string(buf.GetString(), buf.GetSize());
}

// ---------------------------------------------------------------- Records

Records::Records(Store& store, std::map<std::string, TableRule, std::less<>> rules,
                 std::vector<const TableSpec*> extra)
    : store_(store), rules_(std::move(rules)), extra_(std::move(extra)) {}

const TableSpec* Records::FindTable(std::string_view name) const {
  if (const TableSpec* t = store_.registry().Find(name)) return t;
  for (const TableSpec* t : extra_) {
    if (t->name == name) return t;
  }
  return nullptr;
}

const TableSpec& Records::Table(std::string_view name) const {
  const TableSpec* t = FindTable(name);
  assert(t != nullptr && "unknown table");
  return *t;
}

Result<RowValues> Records::FromJson(const TableSpec& t, const rapidjson::Value& obj) const {
  if (!obj.IsObject()) return Status(ErrorCode::kInvalidJson, "expected a JSON object, got " + std::string(JsonTypeName(obj)));
  RowValues row(t);
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (key == "id") {
      if (!it->value.IsString() || !IsUuid(std::string_view(it->value.GetString(), it->value.GetStringLength()))) {
        return Status(ErrorCode::kInvalidField, "must be a UUID when given", "id");
      }
      row.id.assign(it->value.GetString(), it->value.GetStringLength());
      continue;
    }
    const int index = t.IndexOf(key);
    if (index < 0) {
      return Status(ErrorCode::kUnknownField, "no such field in " + t.name, std::string(key));
    }
    const ColumnSpec& c = t.columns[static_cast<size_t>(index)];
    auto value = ColumnValueFromJson(c, it->value);
    if (!value.ok()) return value.status().WithFieldPrefix(key);
    row.values[static_cast<size_t>(index)] = std::move(value).value();
    row.present[static_cast<size_t>(index)] = 1;
  }
  return row;
}

Status Records::Check(RowValues& row, const RowValues* before, const WriteContext& ctx, bool insert) {
  auto rule = rules_.find(row.table->name);
  if (rule != rules_.end()) FB_RETURN_IF_ERROR(rule->second(store_, row, before, ctx));
  for (size_t i = 0; i < row.table->columns.size(); ++i) {
    const ColumnSpec& c = row.table->columns[i];
    if (c.required && (!row.present[i] || IsNull(row.values[i]))) {
      return Status(ErrorCode::kMissingField, insert ? "is required" : "is required and may not be cleared", c.name);
    }
    // A referenced parent must exist (the foreign key would refuse it less clearly).
    if (!c.references.empty() && row.present[i] && AsText(row.values[i]) &&
        (before == nullptr || before->values[i] != row.values[i])) {
      FB_ASSIGN_OR_RETURN(bool exists, Exists(c.references, *AsText(row.values[i])));
      if (!exists) {
        return Status(ErrorCode::kNotFound, "no " + c.references + " row with id " + *AsText(row.values[i]), c.name);
      }
    }
  }
  return Status::Ok();
}

Result<std::string> Records::Insert(RowValues row, const WriteContext& ctx) {
  const TableSpec& t = *row.table;
  if (t.IndexOf("created_at") >= 0) row.SetDefault("created_at", Value{ctx.now_ms});
  if (t.IndexOf("updated_at") >= 0) row.Set("updated_at", Value{ctx.now_ms});
  FB_RETURN_IF_ERROR(Check(row, nullptr, ctx, true));
  if (row.id.empty()) {
    row.id = store_.NewId();
  } else {
    FB_ASSIGN_OR_RETURN(bool taken, Exists(t.name, row.id));
    if (taken) return Status(ErrorCode::kConstraint, "a " + t.name + " row with this id already exists", "id");
  }
  std::string cols = "id", params = "?1";
  int n = 1;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (!row.present[i]) continue;
    cols += ", " + QuoteIdent(t.columns[i].name);
    params += ", ?" + std::to_string(++n);
  }
  FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare("INSERT INTO " + QuoteIdent(t.name) + " (" + cols + ") VALUES (" + params + ")"));
  st.Bind(1, row.id);
  n = 1;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (!row.present[i]) continue;
    FB_ASSIGN_OR_RETURN(Value stored, SealCell(store_, t.columns[i], row.values[i]));
    st.Bind(++n, stored);
  }
  FB_RETURN_IF_ERROR(st.Run());
  return row.id;
}

Status Records::Update(std::string_view table, std::string_view id, const RowValues& patch, const WriteContext& ctx) {
  const TableSpec& t = Table(table);
  FB_ASSIGN_OR_RETURN(std::optional<RowValues> before, Get(table, id));
  if (!before) return Status(ErrorCode::kNotFound, "no " + t.name + " row with id " + std::string(id));
  RowValues merged = *before;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (!patch.present[i]) continue;
    const ColumnSpec& c = t.columns[i];
    if ((c.merge == MergePolicy::kImmutable || c.merge == MergePolicy::kServerOnly) &&
        patch.values[i] != before->values[i]) {
      return Status(ErrorCode::kReadOnlyField,
                    c.merge == MergePolicy::kImmutable ? "is set when the record is created and cannot change"
                                                       : "is written by the server only",
                    c.name);
    }
    merged.values[i] = patch.values[i];
  }
  if (t.IndexOf("updated_at") >= 0) merged.Set("updated_at", Value{std::max(ctx.now_ms, before->Int("updated_at").value_or(0))});
  FB_RETURN_IF_ERROR(Check(merged, &*before, ctx, false));
  std::string sets;
  std::vector<size_t> changed;
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (merged.values[i] == before->values[i]) continue;
    if (!sets.empty()) sets += ", ";
    sets += QuoteIdent(t.columns[i].name) + " = ?" + std::to_string(changed.size() + 2);
    changed.push_back(i);
  }
  if (changed.empty()) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare("UPDATE " + QuoteIdent(t.name) + " SET " + sets + " WHERE id = ?1"));
  st.Bind(1, id);
  for (size_t k = 0; k < changed.size(); ++k) {
    FB_ASSIGN_OR_RETURN(Value stored, SealCell(store_, t.columns[changed[k]], merged.values[changed[k]]));
    st.Bind(static_cast<int>(k) + 2, stored);
  }
  return st.Run();
}

Status Records::Delete(std::string_view table, std::string_view id) {
  const TableSpec& t = Table(table);
  FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare("DELETE FROM " + QuoteIdent(t.name) + " WHERE id = ?1"));
  FB_RETURN_IF_ERROR(st.Bind(1, id).Run());
  if (store_.changes() == 0) return Status(ErrorCode::kNotFound, "no " + t.name + " row with id " + std::string(id));
  return Status::Ok();
}

Result<std::optional<RowValues>> Records::Get(std::string_view table, std::string_view id) {
  const TableSpec& t = Table(table);
  FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare(SelectRowSql(t) + " WHERE id = ?1"));
  st.Bind(1, id);
  FB_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<RowValues>();
  return std::optional<RowValues>(ReadRow(t, st));
}

Result<bool> Records::Exists(std::string_view table, std::string_view id) {
  FB_ASSIGN_OR_RETURN(Statement st, store_.Prepare("SELECT 1 FROM " + QuoteIdent(table) + " WHERE id = ?1"));
  st.Bind(1, id);
  return st.Step();
}

}  // namespace fieldbook
