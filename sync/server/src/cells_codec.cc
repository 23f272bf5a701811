// Stored cell encoding shared by every backend, and scope rules.
#include "fieldbook/core/json.h"
#include "fieldbook/server/server_store.h"

namespace fieldbook::server {

bool Scope::Covers(const RootInfo& root) const {
  switch (role) {
    case Role::kAdmin: return true;
    case Role::kLead: return root.team == team || (root.owner.empty() && root.team.empty());
    case Role::kAgent: return root.owner == agent || (root.owner.empty() && (root.team == team || root.team.empty()));
  }
  return false;
}

std::string EncodeCells(const std::map<std::string, StoredCell>& cells) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const auto& [col, c] : cells) {
    w.Key(col.c_str(), static_cast<rapidjson::SizeType>(col.size()));
    w.StartArray();
    if (const auto* i = std::get_if<int64_t>(&c.value)) w.Int64(*i);
    else if (const auto* d = std::get_if<double>(&c.value)) w.Double(*d);
    else if (const auto* s = std::get_if<std::string>(&c.value)) w.String(s->data(), static_cast<rapidjson::SizeType>(s->size()));
    else w.Null();
    w.Int64(c.hlc);
    w.String(c.site.data(), static_cast<rapidjson::SizeType>(c.site.size()));
    w.Int64(c.wseq);
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<std::map<std::string, StoredCell>> DecodeCells(std::string_view json) {
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "stored cells"));
  if (!doc.IsObject()) return Status(ErrorCode::kCorrupt, "stored cells are not an object");
  std::map<std::string, StoredCell> out;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const auto& a = it->value;
    if (!a.IsArray() || a.Size() != 4 || !a[1].IsInt64() || !a[2].IsString() || !a[3].IsInt64()) {
      return Status(ErrorCode::kCorrupt, std::string("stored cell ") + it->name.GetString() + " is malformed");
    }
    StoredCell c;
    if (a[0].IsString()) c.value = std::string(a[0].GetString(), a[0].GetStringLength());
    else if (a[0].IsInt64()) c.value = a[0].GetInt64();
    else if (a[0].IsNumber()) c.value = a[0].GetDouble();
    c.hlc = a[1].GetInt64();
    c.site = a[2].GetString();
    c.wseq = a[3].GetInt64();
    out.emplace(std::string(it->name.GetString(), it->name.GetStringLength()), std::move(c));
  }
  return out;
}

}  // namespace fieldbook::server
