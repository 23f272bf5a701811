// The stored form of rows shared by every backend, and scope rules.
#include <algorithm>
#include <map>

#include "fieldbook/core/json.h"
#include "fieldbook/server/server_store.h"

namespace fieldbook::server {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteValue(Writer& w, const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) w.Int64(*i);
  else if (const auto* d = std::get_if<double>(&v)) w.Double(*d);
  else if (const auto* s = std::get_if<std::string>(&v)) w.String(s->data(), static_cast<rapidjson::SizeType>(s->size()));
  else w.Null();
}

void Key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }

template <typename T>
T MostCommon(const std::map<T, int>& counts, T fallback) {
  int best = -1;
  for (const auto& [value, n] : counts) {
    if (n > best) fallback = value, best = n;
  }
  return fallback;
}

Status Corrupt(const std::string& what) { return Status(ErrorCode::kCorrupt, "stored row is malformed: " + what); }

}  // namespace

bool Scope::Covers(const RootInfo& root) const {
  switch (role) {
    case Role::kAdmin: return true;
    case Role::kLead: return root.team == team || (root.owner.empty() && root.team.empty());
    case Role::kAgent: return root.owner == agent || (root.owner.empty() && (root.team == team || root.team.empty()));
  }
  return false;
}

EncodedRow EncodeRow(const StoredRow& row) {
  if (!row.deleted) {
    std::vector<CellView> cells;
    cells.reserve(row.cells.size());
    for (const auto& [col, c] : row.cells) cells.push_back(CellView{col, &c.value, c.hlc, c.site, c.wseq});
    return EncodeLiveRow(cells);
  }
  EncodedRow out;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("h");
  w.Int64(row.deleted_hlc);
  w.Key("s");
  Key(w, row.deleted_site);
  w.Key("d");
  w.Int(1);
  w.EndObject();
  out.body.assign(buf.GetString(), buf.GetSize());
  out.wseqs = "{}";
  return out;
}

EncodedRow EncodeLiveRow(const std::vector<CellView>& cells) {
  // The row's default version and write seq: the most common ones (ties to the smallest).
  // A row written in one go, the usual case, has a single one of each.
  std::pair<Hlc, std::string_view> def{0, std::string_view()};
  int64_t def_w = 0;
  const bool one_version = std::all_of(cells.begin(), cells.end(), [&](const CellView& c) {
    return c.hlc == cells.front().hlc && c.site == cells.front().site && c.wseq == cells.front().wseq;
  });
  if (one_version && !cells.empty()) {
    def = {cells.front().hlc, cells.front().site};
    def_w = cells.front().wseq;
  } else {
    std::map<std::pair<Hlc, std::string_view>, int> versions;
    std::map<int64_t, int> wseqs;
    for (const CellView& c : cells) {
      ++versions[{c.hlc, c.site}];
      ++wseqs[c.wseq];
    }
    def = MostCommon(versions, std::make_pair(Hlc{0}, std::string_view()));
    def_w = MostCommon(wseqs, int64_t{0});
  }
  EncodedRow out;
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("h");
  w.Int64(def.first);
  w.Key("s");
  Key(w, def.second);
  w.Key("c");
  w.StartObject();
  for (const CellView& c : cells) {
    if (IsNull(*c.value)) continue;
    Key(w, c.column);
    WriteValue(w, *c.value);
  }
  w.EndObject();
  bool any = false;
  for (const CellView& c : cells) {
    if (c.hlc == def.first && c.site == def.second) continue;
    if (!any) {
      w.Key("x");
      w.StartObject();
      any = true;
    }
    Key(w, c.column);
    w.StartArray();
    w.Int64(c.hlc);
    Key(w, c.site);
    w.EndArray();
  }
  if (any) w.EndObject();
  w.EndObject();
  out.body.assign(buf.GetString(), buf.GetSize());

  rapidjson::StringBuffer wbuf;
  Writer ww(wbuf);
  ww.StartObject();
  ww.Key("w");
  ww.Int64(def_w);
  any = false;
  for (const CellView& c : cells) {
    if (c.wseq == def_w || (IsNull(*c.value) && c.hlc == def.first && c.site == def.second)) continue;
    if (!any) {
      ww.Key("x");
      ww.StartObject();
      any = true;
    }
    Key(ww, c.column);
    ww.Int64(c.wseq);
  }
  if (any) ww.EndObject();
  ww.EndObject();
  out.wseqs.assign(wbuf.GetString(), wbuf.GetSize());
  return out;
}

Status DecodeRow(std::string_view body, std::string_view wseqs, StoredRow* row) {
  FB_ASSIGN_OR_RETURN(rapidjson::Document b, ParseJson(body, "stored row"));
  if (!b.IsObject() || !b.HasMember("h") || !b["h"].IsInt64() || !b.HasMember("s") || !b["s"].IsString()) {
    return Corrupt("no version");
  }
  const Hlc hlc = b["h"].GetInt64();
  const std::string site = b["s"].GetString();
  row->cells.clear();
  if (b.HasMember("d")) {
    row->deleted = true;
    row->deleted_hlc = hlc;
    row->deleted_site = site;
    return Status::Ok();
  }
  row->deleted = false;
  FB_ASSIGN_OR_RETURN(rapidjson::Document w, ParseJson(wseqs, "stored write seqs"));
  if (!w.IsObject() || !w.HasMember("w") || !w["w"].IsInt64()) return Corrupt("no write seq");
  const int64_t def_w = w["w"].GetInt64();
  auto wseq_of = [&](const char* col) -> int64_t {
    if (w.HasMember("x") && w["x"].IsObject() && w["x"].HasMember(col) && w["x"][col].IsInt64()) {
      return w["x"][col].GetInt64();
    }
    return def_w;
  };
  if (b.HasMember("c") && b["c"].IsObject()) {
    for (auto it = b["c"].MemberBegin(); it != b["c"].MemberEnd(); ++it) {
      StoredCell c;
      const auto& v = it->value;
      if (v.IsString()) c.value = std::string(v.GetString(), v.GetStringLength());
      else if (v.IsInt64()) c.value = v.GetInt64();
      else if (v.IsNumber()) c.value = v.GetDouble();
      c.hlc = hlc;
      c.site = site;
      c.wseq = wseq_of(it->name.GetString());
      row->cells.emplace(std::string(it->name.GetString(), it->name.GetStringLength()), std::move(c));
    }
  }
  if (b.HasMember("x") && b["x"].IsObject()) {
    for (auto it = b["x"].MemberBegin(); it != b["x"].MemberEnd(); ++it) {
      const auto& a = it->value;
      if (!a.IsArray() || a.Size() != 2 || !a[0].IsInt64() || !a[1].IsString()) return Corrupt("bad cell version");
      StoredCell& c = row->cells[std::string(it->name.GetString(), it->name.GetStringLength())];
      c.hlc = a[0].GetInt64();
      c.site = a[1].GetString();
      c.wseq = wseq_of(it->name.GetString());
    }
  }
  return Status::Ok();
}

}  // namespace fieldbook::server

namespace fieldbook::server {

void AppendSlice(std::string& out, int64_t chunk_offset, std::string_view chunk, int64_t offset, int64_t length) {
  const int64_t begin = std::max(offset, chunk_offset);
  const int64_t end = std::min(offset + length, chunk_offset + static_cast<int64_t>(chunk.size()));
  if (end > begin) out.append(chunk.substr(static_cast<size_t>(begin - chunk_offset), static_cast<size_t>(end - begin)));
}

}  // namespace fieldbook::server
