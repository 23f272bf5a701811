#include "fieldbook/sync/protocol.h"

#include <zlib.h>

#include <cstring>

#include "fieldbook/core/json.h"
#include "fieldbook/core/redaction.h"

namespace fieldbook::sync {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using JValue = rapidjson::Value;

void WriteString(Writer& w, const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void WriteValue(Writer& w, const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) {
    w.Int64(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    w.Double(*d);
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    WriteString(w, *s);
  } else {
    w.Null();
  }
}

Status Malformed(const std::string& where, const std::string& what) {
  return Status(ErrorCode::kMalformedRequest, what, where);
}

// `where` + `part` + `column` names the value in an error (built only then).
Result<Value> ReadValue(const JValue& v, const std::string& where, const char* part, const std::string& column) {
  if (v.IsNull()) return Value{};
  if (v.IsString()) return Value{std::string(v.GetString(), v.GetStringLength())};
  if (v.IsInt64()) return Value{v.GetInt64()};
  if (v.IsDouble()) return Value{v.GetDouble()};
  return Malformed(where + part + column,
                   std::string("a cell value must be null, a number or a string, not ") + JsonTypeName(v));
}

// Accessors that say exactly which field is missing or of the wrong type.
struct Reader {
  const JValue& obj;
  std::string where;

  Result<std::string> Str(const char* key, bool required = true) const {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) {
      if (required) return Malformed(where + key, "is required");
      return std::string();
    }
    if (!it->value.IsString()) return Malformed(where + key, "must be a string");
    return std::string(it->value.GetString(), it->value.GetStringLength());
  }
  Result<int64_t> Int(const char* key, bool required = true) const {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) {
      if (required) return Malformed(where + key, "is required");
      return int64_t{0};
    }
    if (!it->value.IsInt64()) return Malformed(where + key, "must be a whole number");
    return it->value.GetInt64();
  }
  Result<bool> Bool(const char* key) const {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return false;
    if (it->value.IsBool()) return it->value.GetBool();
    if (it->value.IsInt64()) return it->value.GetInt64() != 0;
    return Malformed(where + key, "must be a boolean");
  }
  Result<const JValue*> Object(const char* key) const {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return static_cast<const JValue*>(nullptr);
    if (!it->value.IsObject()) return Malformed(where + key, "must be an object");
    return &it->value;
  }
  Result<const JValue*> Array(const char* key) const {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return static_cast<const JValue*>(nullptr);
    if (!it->value.IsArray()) return Malformed(where + key, "must be an array");
    return &it->value;
  }
};

const char* OpName(PushChange::Op op) {
  switch (op) {
    case PushChange::Op::kCreate: return "create";
    case PushChange::Op::kUpdate: return "update";
    case PushChange::Op::kDelete: return "delete";
  }
  return "update";
}

void WriteRow(Writer& w, const WireRow& r) {
  w.StartObject();
  w.Key("t");
  WriteString(w, r.table);
  w.Key("r");
  WriteString(w, r.id);
  w.Key("h");
  w.Int64(r.hlc);
  w.Key("s");
  WriteString(w, r.site);
  if (r.deleted) {
    w.Key("d");
    w.Int(1);
  } else {
    w.Key("c");
    w.StartObject();
    for (const auto& [col, v] : r.cells) {
      if (IsNull(v)) continue;
      w.Key(col.c_str(), static_cast<rapidjson::SizeType>(col.size()));
      WriteValue(w, v);
    }
    w.EndObject();
    if (!r.versions.empty()) {
      w.Key("x");
      w.StartObject();
      for (const auto& [col, ver] : r.versions) {
        w.Key(col.c_str(), static_cast<rapidjson::SizeType>(col.size()));
        w.StartArray();
        w.Int64(ver.hlc);
        WriteString(w, ver.site);
        w.EndArray();
      }
      w.EndObject();
    }
  }
  w.EndObject();
}

Result<WireRow> ReadRow(const JValue& v, const std::string& where) {
  if (!v.IsObject()) return Malformed(where, "a row must be an object");
  Reader r{v, where + "."};
  WireRow row;
  FB_ASSIGN_OR_RETURN(row.table, r.Str("t"));
  FB_ASSIGN_OR_RETURN(row.id, r.Str("r"));
  FB_ASSIGN_OR_RETURN(row.hlc, r.Int("h"));
  FB_ASSIGN_OR_RETURN(row.site, r.Str("s"));
  FB_ASSIGN_OR_RETURN(row.deleted, r.Bool("d"));
  FB_ASSIGN_OR_RETURN(const JValue* cells, r.Object("c"));
  if (cells) {
    row.cells.reserve(cells->MemberCount());
    for (auto it = cells->MemberBegin(); it != cells->MemberEnd(); ++it) {
      std::string col(it->name.GetString(), it->name.GetStringLength());
      FB_ASSIGN_OR_RETURN(Value value, ReadValue(it->value, where, ".c.", col));
      row.cells.emplace_back(std::move(col), std::move(value));
    }
  }
  FB_ASSIGN_OR_RETURN(const JValue* versions, r.Object("x"));
  if (versions) {
    for (auto it = versions->MemberBegin(); it != versions->MemberEnd(); ++it) {
      const auto& a = it->value;
      if (!a.IsArray() || a.Size() != 2 || !a[0].IsInt64() || !a[1].IsString()) {
        return Malformed(where + ".x." + it->name.GetString(), "a version is [hlc, site]");
      }
      row.versions[it->name.GetString()] = CellVersion{a[0].GetInt64(), a[1].GetString()};
    }
  }
  return row;
}

std::string Finish(const rapidjson::StringBuffer& b) {
  return std::string(b.GetString(), b.GetSize());
}

}  // namespace

CellVersion WireRow::VersionOf(const std::string& column) const {
  auto it = versions.find(column);
  return it != versions.end() ? it->second : CellVersion{hlc, site};
}

struct RequestWriter::Impl {
  rapidjson::StringBuffer buf;
  Writer w{buf};
};

RequestWriter::RequestWriter(const SyncRequest& q) : impl_(std::make_unique<Impl>()) {
  Writer& w = impl_->w;
  w.StartObject();
  w.Key("protocol");
  w.Int(q.protocol);
  w.Key("site");
  WriteString(w, q.site);
  w.Key("request");
  w.Int64(q.request);
  w.Key("batch");
  WriteString(w, q.batch_id);
  w.Key("cursor");
  w.Int64(q.cursor);
  w.Key("epoch");
  WriteString(w, q.epoch);
  w.Key("limit");
  w.Int(q.limit);
  w.Key("changes");
  w.StartArray();
}

RequestWriter::~RequestWriter() = default;

void RequestWriter::Add(const PushChange& c) {
  Writer& w = impl_->w;
  ++count_;
  w.StartObject();
  w.Key("t");
  WriteString(w, c.table);
  w.Key("r");
  WriteString(w, c.id);
  w.Key("op");
  w.String(OpName(c.op));
  w.Key("h");
  w.Int64(c.hlc);
  w.Key("n");
  w.Int64(c.seen);
  if (c.op != PushChange::Op::kDelete) {
    w.Key("c");
    w.StartObject();
    for (const auto& cell : c.cells) {
      w.Key(cell.column.c_str(), static_cast<rapidjson::SizeType>(cell.column.size()));
      WriteValue(w, cell.value);
    }
    w.EndObject();
    bool any_hlc = false, any_seen = false, any_base = false;
    for (const auto& cell : c.cells) {
      any_hlc |= cell.hlc != c.hlc;
      any_seen |= cell.seen != c.seen;
      any_base |= cell.base.has_value();
    }
    if (any_hlc) {
      w.Key("xh");
      w.StartObject();
      for (const auto& cell : c.cells) {
        if (cell.hlc == c.hlc) continue;
        w.Key(cell.column.c_str(), static_cast<rapidjson::SizeType>(cell.column.size()));
        w.Int64(cell.hlc);
      }
      w.EndObject();
    }
    if (any_seen) {
      w.Key("xn");
      w.StartObject();
      for (const auto& cell : c.cells) {
        if (cell.seen == c.seen) continue;
        w.Key(cell.column.c_str(), static_cast<rapidjson::SizeType>(cell.column.size()));
        w.Int64(cell.seen);
      }
      w.EndObject();
    }
    if (any_base) {
      w.Key("b");
      w.StartObject();
      for (const auto& cell : c.cells) {
        if (!cell.base) continue;
        w.Key(cell.column.c_str(), static_cast<rapidjson::SizeType>(cell.column.size()));
        WriteValue(w, *cell.base);
      }
      w.EndObject();
    }
  }
  w.EndObject();
}

std::string RequestWriter::Finish() {
  impl_->w.EndArray();
  impl_->w.EndObject();
  return std::string(impl_->buf.GetString(), impl_->buf.GetSize());
}

std::string EncodeRequest(const SyncRequest& q) {
  RequestWriter writer(q);
  for (const auto& c : q.changes) writer.Add(c);
  return writer.Finish();
}

Result<SyncRequest> DecodeRequest(std::string json) {
  // Parsed in place: the document's strings stay in `json` instead of being copied.
  rapidjson::Document doc;
  Status parsed = ParseJsonObjectInPlace(json, "request body", doc);
  if (!parsed.ok()) return Status(ErrorCode::kMalformedRequest, parsed.message());
  Reader r{doc, ""};
  SyncRequest q;
  FB_ASSIGN_OR_RETURN(int64_t protocol, r.Int("protocol"));
  if (protocol != kProtocolVersion) {
    return Status(ErrorCode::kUnsupportedProtocol,
                  "protocol " + std::to_string(protocol) + " is not supported (this server speaks 1)", "protocol");
  }
  FB_ASSIGN_OR_RETURN(q.site, r.Str("site"));
  if (q.site.empty() || q.site.size() > 64) return Malformed("site", "must be 1 to 64 characters");
  FB_ASSIGN_OR_RETURN(q.request, r.Int("request", false));
  FB_ASSIGN_OR_RETURN(q.batch_id, r.Str("batch", false));
  if (q.batch_id.size() > 64) return Malformed("batch", "at most 64 characters");
  FB_ASSIGN_OR_RETURN(q.cursor, r.Int("cursor", false));
  if (q.cursor < 0) return Malformed("cursor", "may not be negative");
  FB_ASSIGN_OR_RETURN(q.epoch, r.Str("epoch", false));
  FB_ASSIGN_OR_RETURN(int64_t limit, r.Int("limit", false));
  if (limit < 0 || limit > 100000) return Malformed("limit", "must be 0..100000");
  q.limit = static_cast<int>(limit);
  FB_ASSIGN_OR_RETURN(const JValue* changes, r.Array("changes"));
  if (changes && !changes->Empty() && q.batch_id.empty()) return Malformed("batch", "is required when pushing changes");
  if (changes) {
    q.changes.reserve(changes->Size());
    for (rapidjson::SizeType i = 0; i < changes->Size(); ++i) {
      const std::string where = "changes[" + std::to_string(i) + "]";
      const JValue& cv = (*changes)[i];
      if (!cv.IsObject()) return Malformed(where, "a change must be an object");
      Reader cr{cv, where + "."};
      PushChange c;
      FB_ASSIGN_OR_RETURN(c.table, cr.Str("t"));
      FB_ASSIGN_OR_RETURN(c.id, cr.Str("r"));
      if (c.id.empty() || c.id.size() > 64) return Malformed(where + ".r", "a row id has 1 to 64 characters");
      FB_ASSIGN_OR_RETURN(std::string op, cr.Str("op"));
      if (op == "create") c.op = PushChange::Op::kCreate;
      else if (op == "update") c.op = PushChange::Op::kUpdate;
      else if (op == "delete") c.op = PushChange::Op::kDelete;
      else return Malformed(where + ".op", "must be create, update or delete");
      FB_ASSIGN_OR_RETURN(c.hlc, cr.Int("h"));
      if (c.hlc <= 0) return Malformed(where + ".h", "must be a positive clock value");
      FB_ASSIGN_OR_RETURN(c.seen, cr.Int("n", false));
      FB_ASSIGN_OR_RETURN(const JValue* cells, cr.Object("c"));
      FB_ASSIGN_OR_RETURN(const JValue* xh, cr.Object("xh"));
      FB_ASSIGN_OR_RETURN(const JValue* xn, cr.Object("xn"));
      FB_ASSIGN_OR_RETURN(const JValue* bases, cr.Object("b"));
      if (cells) {
        c.cells.reserve(cells->MemberCount());
        for (auto it = cells->MemberBegin(); it != cells->MemberEnd(); ++it) {
          PushCell cell;
          cell.column.assign(it->name.GetString(), it->name.GetStringLength());
          FB_ASSIGN_OR_RETURN(cell.value, ReadValue(it->value, where, ".c.", cell.column));
          cell.hlc = c.hlc;
          cell.seen = c.seen;
          if (xh && xh->HasMember(cell.column.c_str())) {
            const JValue& h = (*xh)[cell.column.c_str()];
            if (!h.IsInt64() || h.GetInt64() <= 0) return Malformed(where + ".xh." + cell.column, "must be a clock value");
            cell.hlc = h.GetInt64();
          }
          if (xn && xn->HasMember(cell.column.c_str())) {
            const JValue& n = (*xn)[cell.column.c_str()];
            if (!n.IsInt64()) return Malformed(where + ".xn." + cell.column, "must be a whole number");
            cell.seen = n.GetInt64();
          }
          if (bases && bases->HasMember(cell.column.c_str())) {
            FB_ASSIGN_OR_RETURN(Value base, ReadValue((*bases)[cell.column.c_str()], where, ".b.", cell.column));
            cell.base = std::move(base);
          }
          c.cells.push_back(std::move(cell));
        }
      }
      if (c.op != PushChange::Op::kDelete && c.cells.empty()) return Malformed(where + ".c", "a change needs cells");
      q.changes.push_back(std::move(c));
    }
  }
  return q;
}

std::string EncodeResponse(const SyncResponse& s) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("protocol");
  w.Int(kProtocolVersion);
  w.Key("request");
  w.Int64(s.request);
  w.Key("epoch");
  WriteString(w, s.epoch);
  w.Key("ack");
  WriteString(w, s.acked_batch);
  w.Key("applied");
  w.Int64(s.applied);
  w.Key("conflicts");
  w.Int64(s.conflicts);
  w.Key("from");
  w.Int64(s.cursor_from);
  w.Key("cursor");
  w.Int64(s.cursor);
  w.Key("more");
  w.Bool(s.more);
  w.Key("reset");
  w.Bool(s.reset);
  w.Key("server_time");
  w.Int64(s.server_time);
  w.Key("rows");
  w.StartArray();
  for (const auto& raw : s.raw_rows) w.RawValue(raw.data(), raw.size(), rapidjson::kObjectType);
  for (const auto& row : s.rows) WriteRow(w, row);
  w.EndArray();
  w.Key("evict");
  w.StartArray();
  for (const auto& root : s.evict) WriteString(w, root);
  w.EndArray();
  w.EndObject();
  return Finish(buf);
}

Result<SyncResponse> DecodeResponse(std::string_view json) {
  auto parsed = ParseJson(json, "sync response");
  if (!parsed.ok()) return Status(ErrorCode::kServerError, parsed.status().message());
  const rapidjson::Document& doc = *parsed;
  if (!doc.IsObject()) return Status(ErrorCode::kServerError, "sync response is not a JSON object");
  Reader r{doc, ""};
  SyncResponse s;
  auto fill = [&]() -> Status {
    FB_ASSIGN_OR_RETURN(s.request, r.Int("request", false));
    FB_ASSIGN_OR_RETURN(s.epoch, r.Str("epoch"));
    FB_ASSIGN_OR_RETURN(s.acked_batch, r.Str("ack", false));
    FB_ASSIGN_OR_RETURN(s.applied, r.Int("applied", false));
    FB_ASSIGN_OR_RETURN(s.conflicts, r.Int("conflicts", false));
    FB_ASSIGN_OR_RETURN(s.cursor_from, r.Int("from"));
    FB_ASSIGN_OR_RETURN(s.cursor, r.Int("cursor"));
    FB_ASSIGN_OR_RETURN(s.more, r.Bool("more"));
    FB_ASSIGN_OR_RETURN(s.reset, r.Bool("reset"));
    FB_ASSIGN_OR_RETURN(s.server_time, r.Int("server_time", false));
    FB_ASSIGN_OR_RETURN(const JValue* rows, r.Array("rows"));
    if (rows) {
      s.rows.reserve(rows->Size());
      for (rapidjson::SizeType i = 0; i < rows->Size(); ++i) {
        FB_ASSIGN_OR_RETURN(WireRow row, ReadRow((*rows)[i], "rows[" + std::to_string(i) + "]"));
        s.rows.push_back(std::move(row));
      }
    }
    FB_ASSIGN_OR_RETURN(const JValue* evict, r.Array("evict"));
    if (evict) {
      for (const auto& e : evict->GetArray()) {
        if (!e.IsString()) return Malformed("evict", "root ids are strings");
        s.evict.emplace_back(e.GetString(), e.GetStringLength());
      }
    }
    return Status::Ok();
  };
  Status st = fill();
  if (!st.ok()) return Status(ErrorCode::kServerError, "malformed sync response: " + st.ToString());
  return s;
}

std::string EncodeError(const Status& status, int64_t server_time, std::optional<int64_t> offset) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("code");
  const std::string_view code = ErrorCodeName(status.code());
  w.String(code.data(), static_cast<rapidjson::SizeType>(code.size()));
  w.Key("message");
  WriteString(w, RedactPersonalData(status.field().empty() ? status.message()
                                                           : status.field() + ": " + status.message()));
  if (!status.field().empty()) {
    w.Key("field");
    WriteString(w, RedactPersonalData(status.field()));
  }
  w.Key("server_time");
  w.Int64(server_time);
  if (offset) {
    w.Key("offset");
    w.Int64(*offset);
  }
  w.EndObject();
  w.EndObject();
  return Finish(buf);
}

std::optional<ErrorBody> DecodeError(std::string_view json) {
  auto parsed = ParseJson(json, "error body");
  if (!parsed.ok() || !parsed->IsObject() || !parsed->HasMember("error") || !(*parsed)["error"].IsObject()) {
    return std::nullopt;
  }
  const JValue& e = (*parsed)["error"];
  ErrorBody out;
  if (e.HasMember("code") && e["code"].IsString()) out.code = e["code"].GetString();
  if (e.HasMember("message") && e["message"].IsString()) out.message = e["message"].GetString();
  if (e.HasMember("field") && e["field"].IsString()) out.field = e["field"].GetString();
  if (e.HasMember("server_time") && e["server_time"].IsInt64()) out.server_time = e["server_time"].GetInt64();
  return out;
}

// ---------------------------------------------------------------- gzip

bool LooksGzipped(std::string_view data) {
  return data.size() >= 2 && static_cast<unsigned char>(data[0]) == 0x1f && static_cast<unsigned char>(data[1]) == 0x8b;
}

std::string Gzip(std::string_view data, int level) {
  z_stream zs{};
  deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

Result<std::string> Gunzip(std::string_view data, size_t max_output) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return Status(ErrorCode::kInternal, "zlib init failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char chunk[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status(ErrorCode::kMalformedRequest, "body is not valid gzip");
    }
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (out.size() > max_output) {
      inflateEnd(&zs);
      return Status(ErrorCode::kPayloadTooLarge,
                    "body inflates past the limit of " + std::to_string(max_output) + " bytes");
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status(ErrorCode::kMalformedRequest, "gzip body is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace fieldbook::sync
