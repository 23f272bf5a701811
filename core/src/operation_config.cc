// The per-team operation configuration (thresholds, rhythms, quotas, strategies) and
// per-agent quotas, each one row with a derived id so two devices never create two.
#include <algorithm>
#include <cstring>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "operation_rules.h"

namespace fieldbook {
namespace {

constexpr const char* kIntKeys[] = {"high_premium",  "general_premium",   "potential_income",  "potential_staff",
                                    "elderly_age",   "grace_days",        "claim_follow_days", "no_contact_months",
                                    "mature_years",  "quota_prospects",   "quota_visits",      "quota_calls"};

std::string ConfigId(std::string_view team) { return DerivedId("operation_config|" + std::string(team)); }
std::string QuotaId(std::string_view agent) { return DerivedId("agent_quotas|" + std::string(agent)); }

bool Known(const char* const* begin, const char* const* end, std::string_view v) {
  return std::any_of(begin, end, [&](const char* k) { return v == k; });
}

Result<std::vector<std::string>> Products(const rapidjson::Value& v, const std::string& field) {
  if (!v.IsArray()) return Status(ErrorCode::kInvalidField, "must be an array of product names", field);
  std::vector<std::string> out;
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    if (!v[i].IsString() || v[i].GetStringLength() == 0) {
      return Status(ErrorCode::kInvalidField, "must be a non-empty string", field + "[" + std::to_string(i) + "]");
    }
    out.emplace_back(v[i].GetString(), v[i].GetStringLength());
  }
  return out;
}

int64_t* IntSlot(OperationConfig& c, std::string_view key) {
  static int64_t ignored = 0;
  if (key == "high_premium") return &c.high_premium;
  if (key == "general_premium") return &c.general_premium;
  if (key == "potential_income") return &c.potential_income;
  if (key == "potential_staff") return &c.potential_staff;
  return &ignored;
}

void SetInt(OperationConfig& c, std::string_view key, int64_t v) {
  const int small = static_cast<int>(std::min<int64_t>(v, 1000000));
  if (key == "elderly_age") c.elderly_age = small;
  else if (key == "grace_days") c.grace_days = small;
  else if (key == "claim_follow_days") c.claim_follow_days = small;
  else if (key == "no_contact_months") c.no_contact_months = small;
  else if (key == "mature_years") c.mature_years = small;
  else if (key == "quota_prospects") c.quota_prospects = small;
  else if (key == "quota_visits") c.quota_visits = small;
  else if (key == "quota_calls") c.quota_calls = small;
  else *IntSlot(c, key) = v;
}

int64_t GetInt(const OperationConfig& c, std::string_view key) {
  if (key == "elderly_age") return c.elderly_age;
  if (key == "grace_days") return c.grace_days;
  if (key == "claim_follow_days") return c.claim_follow_days;
  if (key == "no_contact_months") return c.no_contact_months;
  if (key == "mature_years") return c.mature_years;
  if (key == "quota_prospects") return c.quota_prospects;
  if (key == "quota_visits") return c.quota_visits;
  if (key == "quota_calls") return c.quota_calls;
  return *IntSlot(const_cast<OperationConfig&>(c), key);
}

// Limits that keep the rules meaningful (a grace period of ten years is a typo).
Status CheckRange(std::string_view key, int64_t v) {
  struct Range {
    const char* key;
    int64_t lo, hi;
  };
  static constexpr Range kRanges[] = {{"elderly_age", 40, 120},      {"grace_days", 0, 366},
                                      {"claim_follow_days", 1, 365}, {"no_contact_months", 1, 120},
                                      {"mature_years", 1, 50},       {"quota_prospects", 0, 1000},
                                      {"quota_visits", 0, 1000},     {"quota_calls", 0, 1000}};
  for (const auto& r : kRanges) {
    if (key == r.key && (v < r.lo || v > r.hi)) {
      return Status(ErrorCode::kInvalidField,
                    "must be from " + std::to_string(r.lo) + " to " + std::to_string(r.hi), std::string(key));
    }
  }
  return Status::Ok();
}

}  // namespace

// Reads {"tiers":{TIER:{service_level, revisit_days, products}}, "segments":{SEGMENT:{products}}}
// into `config`, overriding the defaults it names.
Status ApplyStrategies(const rapidjson::Value& s, OperationConfig& config) {
  const std::string base = "strategies";
  if (!s.IsObject()) return Status(ErrorCode::kInvalidField, "must be an object", base);
  for (auto it = s.MemberBegin(); it != s.MemberEnd(); ++it) {
    const std::string group = it->name.GetString();
    const std::string gfield = base + "." + group;
    if (group != "tiers" && group != "segments") {
      return Status(ErrorCode::kUnknownField, "expected \"tiers\" or \"segments\"", gfield);
    }
    if (!it->value.IsObject()) return Status(ErrorCode::kInvalidField, "must be an object", gfield);
    const bool tiers = group == "tiers";
    for (auto e = it->value.MemberBegin(); e != it->value.MemberEnd(); ++e) {
      const std::string name = e->name.GetString();
      const std::string efield = gfield + "." + name;
      const bool known = tiers ? Known(std::begin(kTiers), std::end(kTiers), name)
                               : Known(std::begin(kSegments), std::end(kSegments), name);
      if (!known) {
        return Status(ErrorCode::kUnknownField,
                      tiers ? "not a value tier (high, potential, general, low)"
                            : "not a needs segment (family, professional, elderly, sme)",
                      efield);
      }
      if (!e->value.IsObject()) return Status(ErrorCode::kInvalidField, "must be an object", efield);
      for (auto f = e->value.MemberBegin(); f != e->value.MemberEnd(); ++f) {
        const std::string key = f->name.GetString();
        const std::string field = efield + "." + key;
        if (key == "products") {
          FB_ASSIGN_OR_RETURN(auto products, Products(f->value, field));
          if (tiers) {
            config.tiers[name].products = std::move(products);
          } else {
            config.segments[name].products = std::move(products);
          }
        } else if (tiers && key == "service_level") {
          if (!f->value.IsString() || f->value.GetStringLength() == 0 || f->value.GetStringLength() > 64) {
            return Status(ErrorCode::kInvalidField, "must be a name of 1 to 64 bytes", field);
          }
          config.tiers[name].service_level = f->value.GetString();
        } else if (tiers && key == "revisit_days") {
          if (!f->value.IsInt() || f->value.GetInt() < 1 || f->value.GetInt() > 3650) {
            return Status(ErrorCode::kInvalidField, "must be a whole number of days from 1 to 3650", field);
          }
          config.tiers[name].revisit_days = f->value.GetInt();
        } else {
          return Status(ErrorCode::kUnknownField,
                        tiers ? "expected service_level, revisit_days or products" : "expected products", field);
        }
      }
    }
  }
  return Status::Ok();
}

const TierStrategy& OperationConfig::Tier(std::string_view tier) const {
  auto it = tiers.find(std::string(tier));
  if (it != tiers.end()) return it->second;
  return tiers.at("general");
}

OperationConfig DefaultOperationConfig() {
  OperationConfig c;
  c.tiers["high"] = {"vip", 30, {"annuity", "universal", "life"}};
  c.tiers["potential"] = {"priority", 60, {"critical_illness", "annuity"}};
  c.tiers["general"] = {"standard", 90, {"critical_illness", "medical"}};
  c.tiers["low"] = {"basic", 180, {"accident", "medical"}};
  c.segments["family"] = {{"education", "critical_illness", "life"}};
  c.segments["professional"] = {{"critical_illness", "medical", "annuity"}};
  c.segments["elderly"] = {{"medical", "accident", "annuity"}};
  c.segments["sme"] = {{"group", "liability", "life"}};
  return c;
}

Result<OperationConfig> LoadOperationConfig(Store& store, std::string_view team) {
  OperationConfig c = DefaultOperationConfig();
  c.team = std::string(team);
  if (team.empty()) return c;
  std::string sql = "SELECT strategies";
  for (const char* k : kIntKeys) sql += std::string(", ") + k;
  sql += " FROM operation_config WHERE id = ?1";
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(sql));
  st.Bind(1, ConfigId(team));
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return c;
  c.stored = true;
  for (size_t i = 0; i < std::size(kIntKeys); ++i) {
    const int col = static_cast<int>(i) + 1;
    if (!st.IsNull(col)) SetInt(c, kIntKeys[i], st.Int(col));
  }
  if (!st.IsNull(0)) {
    auto doc = ParseJson(st.Text(0), "operation_config.strategies");
    // A stored value was validated when written; one that no longer parses keeps defaults.
    if (doc.ok()) (void)ApplyStrategies(*doc, c);
  }
  return c;
}

Status SaveOperationConfig(Archive& archive, std::string_view team, std::string_view json) {
  if (team.empty()) {
    return Status(ErrorCode::kInvalidArgument, "the profile has no team; operation settings are kept per team",
                  "team");
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  FB_ASSIGN_OR_RETURN(OperationConfig current, LoadOperationConfig(archive.store(), team));
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string key = it->name.GetString();
    if (key == "strategies") {
      if (!it->value.IsNull()) FB_RETURN_IF_ERROR(ApplyStrategies(it->value, current));
      continue;
    }
    if (!Known(std::begin(kIntKeys), std::end(kIntKeys), key)) {
      return Status(ErrorCode::kUnknownField, "not an operation setting", key);
    }
    if (it->value.IsNull()) continue;
    if (!it->value.IsInt64() || it->value.GetInt64() < 0) {
      return Status(ErrorCode::kInvalidField, "must be a non-negative integer", key);
    }
    FB_RETURN_IF_ERROR(CheckRange(key, it->value.GetInt64()));
    SetInt(current, key, it->value.GetInt64());
  }
  if (current.general_premium > current.high_premium) {
    return Status(ErrorCode::kInvalidField, "must not exceed high_premium", "general_premium");
  }
  const std::string id = ConfigId(team);
  FB_ASSIGN_OR_RETURN(bool exists, archive.records().Exists("operation_config", id));
  if (exists) {
    doc.RemoveMember("team");
    return archive.Set("operation_config", id, ToJson(doc));
  }
  doc.AddMember("id", rapidjson::Value(id.c_str(), doc.GetAllocator()), doc.GetAllocator());
  doc.RemoveMember("team");
  doc.AddMember("team", rapidjson::Value(std::string(team).c_str(), doc.GetAllocator()), doc.GetAllocator());
  auto added = archive.Add("operation_config", ToJson(doc));
  return added.ok() ? Status::Ok() : added.status();
}

std::string OperationConfigJson(const OperationConfig& c) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("team");
  w.String(c.team.c_str());
  w.Key("stored");
  w.Bool(c.stored);
  for (const char* k : kIntKeys) {
    w.Key(k);
    w.Int64(GetInt(c, k));
  }
  w.Key("strategies");
  w.StartObject();
  w.Key("tiers");
  w.StartObject();
  for (const auto& [name, t] : c.tiers) {
    w.Key(name.c_str());
    w.StartObject();
    w.Key("service_level");
    w.String(t.service_level.c_str());
    w.Key("revisit_days");
    w.Int(t.revisit_days);
    w.Key("products");
    w.StartArray();
    for (const auto& p : t.products) w.String(p.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  w.Key("segments");
  w.StartObject();
  for (const auto& [name, s] : c.segments) {
    w.Key(name.c_str());
    w.StartObject();
    w.Key("products");
    w.StartArray();
    for (const auto& p : s.products) w.String(p.c_str());
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

Result<Quota> LoadQuota(Store& store, const OperationConfig& config, std::string_view agent) {
  Quota q{std::string(agent), config.quota_prospects, config.quota_visits, config.quota_calls, false};
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT prospects_per_day, visits_per_day, calls_per_day FROM agent_quotas WHERE id = ?1"));
  st.Bind(1, QuotaId(agent));
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return q;
  q.own = true;
  if (!st.IsNull(0)) q.prospects = static_cast<int>(st.Int(0));
  if (!st.IsNull(1)) q.visits = static_cast<int>(st.Int(1));
  if (!st.IsNull(2)) q.calls = static_cast<int>(st.Int(2));
  return q;
}

Status SaveQuota(Archive& archive, std::string_view agent, std::string_view json) {
  if (agent.empty()) return Status(ErrorCode::kMissingField, "is required", "agent");
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJsonObject(json, "--json"));
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string key = it->name.GetString();
    if (key != "prospects_per_day" && key != "visits_per_day" && key != "calls_per_day") {
      return Status(ErrorCode::kUnknownField, "expected prospects_per_day, visits_per_day or calls_per_day", key);
    }
    if (!it->value.IsNull() && (!it->value.IsInt() || it->value.GetInt() < 0 || it->value.GetInt() > 1000)) {
      return Status(ErrorCode::kInvalidField, "must be a whole number from 0 to 1000", key);
    }
  }
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(archive.store()));
  const std::string id = QuotaId(agent);
  FB_ASSIGN_OR_RETURN(bool exists, archive.records().Exists("agent_quotas", id));
  if (exists) return archive.Set("agent_quotas", id, ToJson(doc));
  auto& a = doc.GetAllocator();
  doc.AddMember("id", rapidjson::Value(id.c_str(), a), a);
  doc.AddMember("agent", rapidjson::Value(std::string(agent).c_str(), a), a);
  if (!profile.team.empty()) doc.AddMember("team", rapidjson::Value(profile.team.c_str(), a), a);
  auto added = archive.Add("agent_quotas", ToJson(doc));
  return added.ok() ? Status::Ok() : added.status();
}

}  // namespace fieldbook
