#include "fieldbook/sync/protocol.h"

#include <zlib.h>
#ifdef FIELDBOOK_HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "fieldbook/core/json.h"
#include "fieldbook/core/redaction.h"

namespace fieldbook::sync {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
using JValue = rapidjson::Value;

void WriteString(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }


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
// A cell's value; none when `v` is not null, a number or a string.
std::optional<Value> CellValue(const JValue& v) {
  if (v.IsNull()) return Value{};
  if (v.IsString()) return Value{std::string(v.GetString(), v.GetStringLength())};
  if (v.IsInt64()) return Value{v.GetInt64()};
  if (v.IsDouble()) return Value{v.GetDouble()};
  return std::nullopt;
}

Status NotAValue(const std::string& where, const JValue& v) {
  return Malformed(where, std::string("a cell value must be null, a number or a string, not ") + JsonTypeName(v));
}

Result<Value> ReadValue(const JValue& v, const std::string& where, const char* part, const std::string& column) {
  if (auto value = CellValue(v)) return std::move(*value);
  return NotAValue(where + part + column, v);
}

// The value at row `i` of column `k` of a block; its place is spelled out only for an
// error (a block holds a hundred thousand cells).
Result<Value> ReadBlockValue(const JValue& v, const std::string& where, size_t k, size_t i) {
  if (auto value = CellValue(v)) return std::move(*value);
  return NotAValue(where + ".v[" + std::to_string(k) + "][" + std::to_string(i) + "]", v);
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

void WriteKey(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
void WriteCell(Writer& w, const Value& v) { WriteValue(w, v); }
void WriteCell(Writer& w, const JValue& v) { v.Accept(w); }
bool IsNullCell(const Value& v) { return IsNull(v); }
bool IsNullCell(const JValue& v) { return v.IsNull(); }

// Rows are written from a decoded WireRow, or on the server's pull from a stored row's
// parsed JSON (StoredRowCheck vouches for its shape), without building a WireRow.
struct ParsedRow {
  const JValue* v;
};
std::string_view View(const JValue& v) { return std::string_view(v.GetString(), v.GetStringLength()); }
std::string_view RowTable(const WireRow& r) { return r.table; }
std::string_view RowTable(const ParsedRow& r) { return View((*r.v)["t"]); }
std::string_view RowId(const WireRow& r) { return r.id; }
std::string_view RowId(const ParsedRow& r) { return View((*r.v)["r"]); }
Hlc RowHlc(const WireRow& r) { return r.hlc; }
Hlc RowHlc(const ParsedRow& r) { return (*r.v)["h"].GetInt64(); }
std::string_view RowSite(const WireRow& r) { return r.site; }
std::string_view RowSite(const ParsedRow& r) { return View((*r.v)["s"]); }
// f(name, value) for each cell, null ones included, in the row's order.
template <class F>
void ForEachCell(const WireRow& r, F&& f) {
  for (const auto& [col, v] : r.cells) f(std::string_view(col), v);
}
template <class F>
void ForEachCell(const ParsedRow& r, F&& f) {
  auto c = r.v->FindMember("c");
  if (c == r.v->MemberEnd() || !c->value.IsObject()) return;
  for (const auto& m : c->value.GetObject()) f(View(m.name), m.value);
}
// f(column, hlc, site) for each cell version that differs from the row's, by column.
template <class F>
void ForEachVersion(const WireRow& r, F&& f) {
  for (const auto& [col, ver] : r.versions) f(std::string_view(col), ver.hlc, std::string_view(ver.site));
}
template <class F>
void ForEachVersion(const ParsedRow& r, F&& f) {
  auto x = r.v->FindMember("x");
  if (x == r.v->MemberEnd() || !x->value.IsObject()) return;
  for (const auto& m : x->value.GetObject()) f(View(m.name), m.value[0].GetInt64(), View(m.value[1]));
}
template <class Row>
bool HasVersions(const Row& r) {
  bool any = false;
  ForEachVersion(r, [&](std::string_view, Hlc, std::string_view) { any = true; });
  return any;
}
// {"column": [hlc, site], ...} for the row's differing cell versions.
template <class Row>
void WriteVersions(Writer& w, const Row& r) {
  w.StartObject();
  ForEachVersion(r, [&](std::string_view col, Hlc hlc, std::string_view site) {
    WriteKey(w, col);
    w.StartArray();
    w.Int64(hlc);
    WriteString(w, site);
    w.EndArray();
  });
  w.EndObject();
}

// A live row, written row-wise.
template <class Row>
void WriteLiveRow(Writer& w, const Row& r) {
  w.StartObject();
  w.Key("t");
  WriteString(w, RowTable(r));
  w.Key("r");
  WriteString(w, RowId(r));
  w.Key("h");
  w.Int64(RowHlc(r));
  w.Key("s");
  WriteString(w, RowSite(r));
  w.Key("c");
  w.StartObject();
  ForEachCell(r, [&](std::string_view col, const auto& v) {
    if (IsNullCell(v)) return;
    WriteKey(w, col);
    WriteCell(w, v);
  });
  w.EndObject();
  if (HasVersions(r)) {
    w.Key("x");
    WriteVersions(w, r);
  }
  w.EndObject();
}

void WriteRow(Writer& w, const WireRow& r) {
  if (!r.deleted) return WriteLiveRow(w, r);
  w.StartObject();
  w.Key("t");
  WriteString(w, r.table);
  w.Key("r");
  WriteString(w, r.id);
  w.Key("h");
  w.Int64(r.hlc);
  w.Key("s");
  WriteString(w, r.site);
  w.Key("d");
  w.Int(1);
  w.EndObject();
}

// Whether a stored row (the server's pulled form, protocol.md) is a live row ReadRow would
// take as it is, versions in column order: then it is written into blocks straight from
// its parsed JSON. Anything else is sent as stored.
bool StoredRowCheck(const JValue& v) {
  if (!v.IsObject()) return false;
  auto str = [&](const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsString();
  };
  if (!str("t") || !str("r") || !str("s")) return false;
  auto h = v.FindMember("h");
  if (h == v.MemberEnd() || !h->value.IsInt64()) return false;
  if (auto d = v.FindMember("d"); d != v.MemberEnd() && !d->value.IsNull()) {
    if (!(d->value.IsBool() || d->value.IsInt64())) return false;
    if (d->value.IsBool() ? d->value.GetBool() : d->value.GetInt64() != 0) return false;  // a tombstone
  }
  if (auto c = v.FindMember("c"); c != v.MemberEnd() && !c->value.IsNull()) {
    if (!c->value.IsObject()) return false;
    for (const auto& m : c->value.GetObject()) {
      const JValue& x = m.value;
      if (!(x.IsNull() || x.IsString() || x.IsInt64() || x.IsDouble())) return false;
    }
  }
  if (auto x = v.FindMember("x"); x != v.MemberEnd() && !x->value.IsNull()) {
    if (!x->value.IsObject()) return false;
    std::string_view previous;
    bool first = true;
    for (const auto& m : x->value.GetObject()) {
      const JValue& a = m.value;
      if (!a.IsArray() || a.Size() != 2 || !a[0].IsInt64() || !a[1].IsString()) return false;
      if (!first && !(previous < View(m.name))) return false;  // ReadRow would sort them
      previous = View(m.name);
      first = false;
    }
  }
  return true;
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

// ---------------------------------------------------------------- column blocks
//
// A run of rows of one table written column by column: names once, like values next to
// each other (which compresses far better), clocks as deltas. Only rows every cell of
// which shares the row's version go in a creation block; a live row's differing cell
// versions travel in the block's "x".

constexpr size_t kBlockRows = 2500;   // rows per block at most (a default page)
constexpr size_t kMinBlockRows = 4;   // fewer are written row by row
constexpr size_t kMaxBlockColumns = 1024;
// Cells one request may carry: decoded, a cell takes ~150 bytes, and a gzip body can
// inflate to 64 MB of "1," (a block's cheapest cell). 50,000 changes of 40 cells fit.
constexpr size_t kMaxRequestCells = 2000000;

Status TooManyCells() {
  return Status(ErrorCode::kPayloadTooLarge,
                "a request carries at most " + std::to_string(kMaxRequestCells) + " cells; split the batch");
}

// The union of the columns of a run of rows, in first-seen order.
class BlockColumns {
 public:
  // The column's index; rows of one table list their columns in the same order, so the
  // next index is tried before the map.
  size_t Add(std::string_view name) {
    if (next_ < names_.size() && names_[next_] == name) return next_++;
    auto [it, fresh] = index_.emplace(std::string(name), names_.size());
    if (fresh) names_.emplace_back(name);
    next_ = it->second + 1;
    return it->second;
  }
  void StartRow() { next_ = 0; }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;
  size_t next_ = 0;
};

void WriteDeltas(Writer& w, const std::vector<int64_t>& values) {
  w.StartArray();
  int64_t previous = 0;
  for (int64_t v : values) {
    // Wraps like the decoder's sum would: two's complement, never undefined.
    w.Int64(static_cast<int64_t>(static_cast<uint64_t>(v) - static_cast<uint64_t>(previous)));
    previous = v;
  }
  w.EndArray();
}

// Writes "cols" and "v" for rows whose cells ForEachCell yields as (name, value of type
// V); a null in "v" means the row has no such cell.
template <class V, class Row>
void WriteBlockValues(Writer& w, const std::vector<Row>& rows) {
  BlockColumns columns;
  for (const auto& row : rows) {
    columns.StartRow();
    ForEachCell(row, [&](std::string_view name, const V&) { columns.Add(name); });
  }
  const size_t width = columns.names().size();
  std::vector<const V*> grid(width * rows.size(), nullptr);
  for (size_t i = 0; i < rows.size(); ++i) {
    columns.StartRow();
    ForEachCell(rows[i], [&](std::string_view name, const V& value) { grid[columns.Add(name) * rows.size() + i] = &value; });
  }
  w.Key("cols");
  w.StartArray();
  for (const auto& name : columns.names()) WriteString(w, name);
  w.EndArray();
  w.Key("v");
  w.StartArray();
  for (size_t c = 0; c < width; ++c) {
    w.StartArray();
    for (size_t i = 0; i < rows.size(); ++i) {
      const V* v = grid[c * rows.size() + i];
      if (v) WriteCell(w, *v);
      else w.Null();
    }
    w.EndArray();
  }
  w.EndArray();
}

// A creation every cell of which carries the row's own version and a value.
bool PlainCreate(const PushChange& c) {
  if (c.op != PushChange::Op::kCreate || c.cells.empty()) return false;
  for (const auto& cell : c.cells) {
    if (cell.hlc != c.hlc || cell.seen != c.seen || cell.base || IsNull(cell.value)) return false;
  }
  return true;
}

template <class F>
void ForEachCell(const PushChange& c, F&& f) {
  for (const auto& cell : c.cells) f(std::string_view(cell.column), cell.value);
}

void WriteCreateBlock(Writer& w, const std::vector<PushChange>& run) {
  w.StartObject();
  w.Key("t");
  WriteString(w, run.front().table);
  w.Key("op");
  w.String("create");
  w.Key("r");
  w.StartArray();
  for (const auto& c : run) WriteString(w, c.id);
  w.EndArray();
  std::vector<int64_t> numbers;
  numbers.reserve(run.size());
  for (const auto& c : run) numbers.push_back(c.hlc);
  w.Key("h");
  WriteDeltas(w, numbers);
  numbers.clear();
  for (const auto& c : run) numbers.push_back(c.seen);
  w.Key("n");
  WriteDeltas(w, numbers);
  WriteBlockValues<Value>(w, run);
  w.EndObject();
}

// A run of live rows of one table (WireRow, or ParsedRow on the server) as one block.
template <class Row>
void WriteRowBlock(Writer& w, const std::vector<Row>& run) {
  using Cell = std::conditional_t<std::is_same_v<Row, ParsedRow>, JValue, Value>;
  w.StartObject();
  w.Key("t");
  WriteString(w, RowTable(run.front()));
  w.Key("r");
  w.StartArray();
  for (const auto& r : run) WriteString(w, RowId(r));
  w.EndArray();
  std::vector<int64_t> clocks;
  clocks.reserve(run.size());
  for (const auto& r : run) clocks.push_back(RowHlc(r));
  w.Key("h");
  WriteDeltas(w, clocks);
  w.Key("s");
  bool one_site = true;
  for (const auto& r : run) one_site &= RowSite(r) == RowSite(run.front());
  if (one_site) {
    WriteString(w, RowSite(run.front()));
  } else {
    w.StartArray();
    for (const auto& r : run) WriteString(w, RowSite(r));
    w.EndArray();
  }
  WriteBlockValues<Cell>(w, run);
  bool any_versions = false;
  for (const auto& r : run) any_versions |= HasVersions(r);
  if (any_versions) {
    w.Key("x");
    w.StartObject();
    for (size_t i = 0; i < run.size(); ++i) {
      if (!HasVersions(run[i])) continue;
      WriteKey(w, std::to_string(i));
      WriteVersions(w, run[i]);
    }
    w.EndObject();
  }
  w.EndObject();
}

// The shape every block shares: "r" (ids), "cols" and "v" (a value per row per column).
struct BlockShape {
  const JValue* ids = nullptr;
  std::vector<std::string> columns;
  const JValue* values = nullptr;
  size_t rows = 0;
};

Result<BlockShape> ReadBlockShape(const Reader& r) {
  BlockShape shape;
  FB_ASSIGN_OR_RETURN(shape.ids, r.Array("r"));
  if (!shape.ids || shape.ids->Empty()) return Malformed(r.where + "r", "a block needs row ids");
  shape.rows = shape.ids->Size();
  for (rapidjson::SizeType i = 0; i < shape.ids->Size(); ++i) {
    const JValue& id = (*shape.ids)[i];
    if (!id.IsString() || id.GetStringLength() == 0 || id.GetStringLength() > 64) {
      return Malformed(r.where + "r[" + std::to_string(i) + "]", "a row id has 1 to 64 characters");
    }
  }
  FB_ASSIGN_OR_RETURN(const JValue* cols, r.Array("cols"));
  if (!cols || cols->Empty()) return Malformed(r.where + "cols", "a block needs column names");
  if (cols->Size() > kMaxBlockColumns) {
    return Malformed(r.where + "cols", "a block has at most " + std::to_string(kMaxBlockColumns) + " columns");
  }
  std::unordered_map<std::string_view, bool> seen;
  for (rapidjson::SizeType i = 0; i < cols->Size(); ++i) {
    const JValue& name = (*cols)[i];
    const std::string where = r.where + "cols[" + std::to_string(i) + "]";
    if (!name.IsString() || name.GetStringLength() == 0) return Malformed(where, "a column name is a non-empty string");
    if (!seen.emplace(std::string_view(name.GetString(), name.GetStringLength()), true).second) {
      return Malformed(where, "column " + std::string(name.GetString()) + " is named twice");
    }
    shape.columns.emplace_back(name.GetString(), name.GetStringLength());
  }
  FB_ASSIGN_OR_RETURN(shape.values, r.Array("v"));
  if (!shape.values || shape.values->Size() != cols->Size()) {
    return Malformed(r.where + "v", "a block has one array of values per column");
  }
  for (rapidjson::SizeType c = 0; c < shape.values->Size(); ++c) {
    const JValue& column = (*shape.values)[c];
    if (!column.IsArray() || column.Size() != shape.rows) {
      return Malformed(r.where + "v[" + std::to_string(c) + "]", "a column has one value per row");
    }
  }
  return shape;
}

// The non-null values of each row of a block.
std::vector<uint32_t> CellsPerRow(const BlockShape& shape) {
  std::vector<uint32_t> per_row(shape.rows, 0);
  for (const auto& column : shape.values->GetArray()) {
    for (size_t i = 0; i < shape.rows; ++i) per_row[i] += column[static_cast<rapidjson::SizeType>(i)].IsNull() ? 0 : 1;
  }
  return per_row;
}

// Sums the deltas of `key` into one number per row.
Result<std::vector<int64_t>> ReadDeltas(const Reader& r, const char* key, size_t rows) {
  FB_ASSIGN_OR_RETURN(const JValue* deltas, r.Array(key));
  if (!deltas || deltas->Size() != rows) {
    return Malformed(r.where + key, "a block has one number per row (each the difference from the previous)");
  }
  std::vector<int64_t> out;
  out.reserve(rows);
  uint64_t sum = 0;
  for (rapidjson::SizeType i = 0; i < deltas->Size(); ++i) {
    const JValue& d = (*deltas)[i];
    if (!d.IsInt64()) return Malformed(r.where + key + "[" + std::to_string(i) + "]", "must be a whole number");
    sum += static_cast<uint64_t>(d.GetInt64());
    out.push_back(static_cast<int64_t>(sum));
  }
  return out;
}

// Appends the creations of a block of "changes".
Status ReadCreateBlock(const JValue& v, const std::string& where, std::vector<PushChange>& out, size_t& cells_left) {
  Reader r{v, where + "."};
  FB_ASSIGN_OR_RETURN(std::string table, r.Str("t"));
  FB_ASSIGN_OR_RETURN(std::string op, r.Str("op"));
  if (op != "create") return Malformed(where + ".op", "a block holds creations only");
  FB_ASSIGN_OR_RETURN(BlockShape shape, ReadBlockShape(r));
  FB_ASSIGN_OR_RETURN(std::vector<int64_t> clocks, ReadDeltas(r, "h", shape.rows));
  FB_ASSIGN_OR_RETURN(std::vector<int64_t> seen, ReadDeltas(r, "n", shape.rows));
  // Counted before anything is built: the request's budget, and each row's cells (most
  // of a wide table's are null; reserving for every column cost more than the decoding).
  const std::vector<uint32_t> per_row = CellsPerRow(shape);
  size_t cells = 0;
  for (uint32_t n : per_row) cells += n;
  if (cells > cells_left) return TooManyCells();
  cells_left -= cells;
  for (size_t i = 0; i < shape.rows; ++i) {
    const auto index = static_cast<rapidjson::SizeType>(i);
    PushChange& c = out.emplace_back();
    c.table = table;
    const JValue& id = (*shape.ids)[index];
    c.id.assign(id.GetString(), id.GetStringLength());
    c.op = PushChange::Op::kCreate;
    c.hlc = clocks[i];
    if (c.hlc <= 0) return Malformed(where + ".h[" + std::to_string(i) + "]", "must add up to a positive clock value");
    c.seen = seen[i];
    c.cells.reserve(per_row[i]);
    for (size_t k = 0; k < shape.columns.size(); ++k) {
      const JValue& cell = (*shape.values)[static_cast<rapidjson::SizeType>(k)][index];
      if (cell.IsNull()) continue;
      FB_ASSIGN_OR_RETURN(Value value, ReadBlockValue(cell, where, k, i));
      PushCell& pc = c.cells.emplace_back();
      pc.column = shape.columns[k];
      pc.value = std::move(value);
      pc.hlc = c.hlc;
      pc.seen = c.seen;
    }
    if (c.cells.empty()) return Malformed(where + ".v", "row " + std::to_string(i) + " of the block has no cells");
  }
  return Status::Ok();
}

// Appends the rows of a block of "rows".
Status ReadRowBlock(const JValue& v, const std::string& where, std::vector<WireRow>& out) {
  Reader r{v, where + "."};
  FB_ASSIGN_OR_RETURN(std::string table, r.Str("t"));
  FB_ASSIGN_OR_RETURN(BlockShape shape, ReadBlockShape(r));
  FB_ASSIGN_OR_RETURN(std::vector<int64_t> clocks, ReadDeltas(r, "h", shape.rows));
  auto sites = v.FindMember("s");
  if (sites == v.MemberEnd() ||
      !(sites->value.IsString() || (sites->value.IsArray() && sites->value.Size() == shape.rows))) {
    return Malformed(where + ".s", "a block has one site, or one per row");
  }
  FB_ASSIGN_OR_RETURN(const JValue* versions, r.Object("x"));
  const std::vector<uint32_t> per_row = CellsPerRow(shape);
  const size_t first = out.size();
  for (size_t i = 0; i < shape.rows; ++i) {
    const auto index = static_cast<rapidjson::SizeType>(i);
    WireRow& row = out.emplace_back();
    row.table = table;
    const JValue& id = (*shape.ids)[index];
    row.id.assign(id.GetString(), id.GetStringLength());
    row.hlc = clocks[i];
    const JValue& site = sites->value.IsString() ? sites->value : sites->value[index];
    if (!site.IsString()) return Malformed(where + ".s[" + std::to_string(i) + "]", "must be a string");
    row.site.assign(site.GetString(), site.GetStringLength());
    row.cells.reserve(per_row[i]);
    for (size_t k = 0; k < shape.columns.size(); ++k) {
      const JValue& cell = (*shape.values)[static_cast<rapidjson::SizeType>(k)][index];
      if (cell.IsNull()) continue;
      FB_ASSIGN_OR_RETURN(Value value, ReadBlockValue(cell, where, k, i));
      row.cells.emplace_back(shape.columns[k], std::move(value));
    }
  }
  if (versions) {
    for (auto it = versions->MemberBegin(); it != versions->MemberEnd(); ++it) {
      const std::string key(it->name.GetString(), it->name.GetStringLength());
      const std::string key_where = where + ".x." + key;
      char* end = nullptr;
      const unsigned long long i = std::strtoull(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || i >= shape.rows) return Malformed(key_where, "must be the index of a row of the block");
      if (!it->value.IsObject()) return Malformed(key_where, "must be an object of versions");
      WireRow& row = out[first + i];
      for (auto ver = it->value.MemberBegin(); ver != it->value.MemberEnd(); ++ver) {
        const auto& a = ver->value;
        if (!a.IsArray() || a.Size() != 2 || !a[0].IsInt64() || !a[1].IsString()) {
          return Malformed(key_where + "." + ver->name.GetString(), "a version is [hlc, site]");
        }
        row.versions[ver->name.GetString()] = CellVersion{a[0].GetInt64(), a[1].GetString()};
      }
    }
  }
  return Status::Ok();
}

bool IsBlock(const JValue& v) { return v.IsObject() && v.HasMember("cols"); }

// Rows a list of changes or rows holds, blocks counted by their ids; for reserving room,
// so bounded (a hostile list grows the usual way past that).
size_t RowsIn(const JValue& list) {
  constexpr size_t kMostReserved = size_t{1} << 18;
  size_t rows = 0;
  for (const auto& v : list.GetArray()) {
    size_t n = 1;
    if (IsBlock(v)) {
      auto ids = v.FindMember("r");
      if (ids != v.MemberEnd() && ids->value.IsArray()) n = ids->value.Size();
    }
    rows += n;
  }
  return std::min(rows, kMostReserved);
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
  std::vector<PushChange> run;  // plain creations of one table, not written yet

  void WriteChange(const PushChange& c);
  // A plain creation waits in the run (copied, or moved when it can be); anything else
  // ends the run and is written at once.
  template <class Change>
  void Add(Change&& c, int64_t& count) {
    ++count;
    if (PlainCreate(c)) {
      if (!run.empty() && run.front().table != c.table) FlushRun();
      run.push_back(std::forward<Change>(c));
      if (run.size() == kBlockRows) FlushRun();
      return;
    }
    FlushRun();
    WriteChange(c);
  }
  void FlushRun() {
    if (run.size() >= kMinBlockRows) {
      WriteCreateBlock(w, run);
    } else {
      for (const auto& c : run) WriteChange(c);
    }
    run.clear();
  }
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
  if (q.blocks) {
    w.Key("blocks");
    w.Bool(true);
  }
  w.Key("changes");
  w.StartArray();
}

RequestWriter::~RequestWriter() = default;

void RequestWriter::Add(const PushChange& c) { impl_->Add(c, count_); }
void RequestWriter::Add(PushChange&& c) { impl_->Add(std::move(c), count_); }

void RequestWriter::Impl::WriteChange(const PushChange& c) {
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
  if (!c.root.empty() && c.op == PushChange::Op::kUpdate) {
    w.Key("rt");
    WriteString(w, c.root);
  }
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
  impl_->FlushRun();
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
  FB_ASSIGN_OR_RETURN(q.blocks, r.Bool("blocks"));
  FB_ASSIGN_OR_RETURN(const JValue* changes, r.Array("changes"));
  if (changes && !changes->Empty() && q.batch_id.empty()) return Malformed("batch", "is required when pushing changes");
  if (changes) {
    size_t cells_left = kMaxRequestCells;
    q.changes.reserve(RowsIn(*changes));
    for (rapidjson::SizeType i = 0; i < changes->Size(); ++i) {
      const std::string where = "changes[" + std::to_string(i) + "]";
      const JValue& cv = (*changes)[i];
      if (IsBlock(cv)) {
        FB_RETURN_IF_ERROR(ReadCreateBlock(cv, where, q.changes, cells_left));
        continue;
      }
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
      FB_ASSIGN_OR_RETURN(c.root, cr.Str("rt", false));
      if (c.root.size() > 64) return Malformed(where + ".rt", "a row id has 1 to 64 characters");
      FB_ASSIGN_OR_RETURN(const JValue* cells, cr.Object("c"));
      FB_ASSIGN_OR_RETURN(const JValue* xh, cr.Object("xh"));
      FB_ASSIGN_OR_RETURN(const JValue* xn, cr.Object("xn"));
      FB_ASSIGN_OR_RETURN(const JValue* bases, cr.Object("b"));
      if (cells) {
        if (cells->MemberCount() > cells_left) return TooManyCells();
        cells_left -= cells->MemberCount();
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
  if (s.blocks) {
    // Live rows of one table, not written yet: the stored rows parsed into `pool` (the
    // server's pull; no WireRow is built for them) or decoded rows. A run holds one kind.
    rapidjson::MemoryPoolAllocator<> pool;
    rapidjson::Document parser(&pool);
    std::vector<JValue> parsed_values;  // in `pool`; never past kBlockRows, so never moved
    parsed_values.reserve(kBlockRows);
    std::vector<ParsedRow> parsed;
    std::vector<WireRow> decoded;
    auto write = [&](const auto& run) {
      if (run.size() >= kMinBlockRows) {
        WriteRowBlock(w, run);
      } else {
        for (const auto& row : run) WriteLiveRow(w, row);
      }
    };
    // `parser`'s own row is in the pool too: only a flush that does not keep it frees it.
    auto flush = [&](bool parser_row_kept = false) {
      write(parsed);
      write(decoded);
      parsed.clear();
      parsed_values.clear();
      if (!parser_row_kept) pool.Clear();
      decoded.clear();
    };
    for (const auto& raw : s.raw_rows) {
      parser.Parse(raw.data(), raw.size());
      if (parser.HasParseError() || !StoredRowCheck(parser)) {  // sent as stored
        flush();
        w.RawValue(raw.data(), raw.size(), rapidjson::kObjectType);
        continue;
      }
      if (!parsed.empty() && RowTable(parsed.front()) != View(parser["t"])) flush(true);
      parsed_values.push_back(std::move(static_cast<JValue&>(parser)));
      parsed.push_back(ParsedRow{&parsed_values.back()});
      if (parsed.size() == kBlockRows) flush();
    }
    flush();
    for (const auto& row : s.rows) {
      if (row.deleted) {
        flush();
        WriteRow(w, row);
        continue;
      }
      if (!decoded.empty() && decoded.front().table != row.table) flush();
      decoded.push_back(row);
      if (decoded.size() == kBlockRows) flush();
    }
    flush();
  } else {
    for (const auto& raw : s.raw_rows) w.RawValue(raw.data(), raw.size(), rapidjson::kObjectType);
    for (const auto& row : s.rows) WriteRow(w, row);
  }
  w.EndArray();
  w.Key("evict");
  w.StartArray();
  for (const auto& root : s.evict) WriteString(w, root);
  w.EndArray();
  w.EndObject();
  return Finish(buf);
}

namespace {

Result<SyncResponse> ReadResponse(const rapidjson::Document& doc) {
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
      s.rows.reserve(RowsIn(*rows));
      for (rapidjson::SizeType i = 0; i < rows->Size(); ++i) {
        if (IsBlock((*rows)[i])) {
          FB_RETURN_IF_ERROR(ReadRowBlock((*rows)[i], "rows[" + std::to_string(i) + "]", s.rows));
          continue;
        }
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

}  // namespace

Result<SyncResponse> DecodeResponse(std::string_view json) {
  auto parsed = ParseJson(json, "sync response");
  if (!parsed.ok()) return Status(ErrorCode::kServerError, parsed.status().message());
  if (!parsed->IsObject()) return Status(ErrorCode::kServerError, "sync response is not a JSON object");
  return ReadResponse(*parsed);
}

Result<SyncResponse> DecodeResponse(std::string&& json) {
  // Parsed in place: the document's strings stay in `json` instead of being copied first.
  rapidjson::Document doc;
  Status parsed = ParseJsonObjectInPlace(json, "sync response", doc);
  if (!parsed.ok()) return Status(ErrorCode::kServerError, parsed.message());
  return ReadResponse(doc);
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

#ifdef FIELDBOOK_HAVE_LIBDEFLATE
namespace {

// libdeflate writes the same gzip about twice as fast as zlib at a level and a little
// smaller, and inflates a whole body in one call; kept per thread, one per level.
libdeflate_compressor* CompressorFor(int level) {
  struct Free {
    void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
  };
  thread_local std::unique_ptr<libdeflate_compressor, Free> by_level[13];
  if (level < 1 || level > 12) return nullptr;
  auto& c = by_level[level];
  if (!c) c.reset(libdeflate_alloc_compressor(level));
  return c.get();
}

libdeflate_decompressor* Decompressor() {
  struct Free {
    void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
  };
  thread_local std::unique_ptr<libdeflate_decompressor, Free> d(libdeflate_alloc_decompressor());
  return d.get();
}

}  // namespace

int GzipLevelFor(size_t) { return 6; }
#else
int GzipLevelFor(size_t bytes) { return bytes > (1u << 20) ? 1 : 6; }
#endif

std::string Gzip(std::string_view data, int level) {
#ifdef FIELDBOOK_HAVE_LIBDEFLATE
  if (libdeflate_compressor* c = CompressorFor(level)) {
    std::string out(libdeflate_gzip_compress_bound(c, data.size()), '\0');
    const size_t n = libdeflate_gzip_compress(c, data.data(), data.size(), out.data(), out.size());
    if (n > 0) {
      out.resize(n);
      return out;
    }
  }
#endif
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
#ifdef FIELDBOOK_HAVE_LIBDEFLATE
  // One call when the trailer's size (the input's length mod 2^32) is believable: within
  // the limit and what deflate can expand to. Anything else, and any failure, takes the
  // streaming path below, which enforces the limit and names the fault.
  if (data.size() >= 18) {
    const auto* trailer = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
    const size_t size = static_cast<size_t>(trailer[0]) | static_cast<size_t>(trailer[1]) << 8 |
                        static_cast<size_t>(trailer[2]) << 16 | static_cast<size_t>(trailer[3]) << 24;
    libdeflate_decompressor* d = Decompressor();
    if (d && size <= max_output && size / 1032 <= data.size()) {
      std::string out(size, '\0');
      size_t used = 0, produced = 0;
      if (libdeflate_gzip_decompress_ex(d, data.data(), data.size(), out.data(), out.size(), &used, &produced) ==
              LIBDEFLATE_SUCCESS &&
          used == data.size() && produced == size) {
        return out;
      }
    }
  }
#endif
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
