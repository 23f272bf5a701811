// Needs segment and value tier: suggested from the archive, overridable by the agent.
//
// Segment, first rule that applies:
//   1. a company customer, the legal representative of a company customer on this
//      device, or an occupation naming a business owner                  -> sme
//   2. aged elderly_age or more, or retired                                -> elderly
//   3. married, or with a spouse or child among the family members        -> family
//   4. an occupation or employer on file                                   -> professional
//   otherwise no suggestion (the stored segment is kept).
// Tier, from the annualised premium of policies in force or in grace:
//   premium >= high_premium -> high; else income >= potential_income (or a company with
//   potential_staff or more) -> potential; else premium >= general_premium -> general;
//   else low.
#include <algorithm>

#include "fieldbook/core/json.h"
#include "fieldbook/core/operation.h"
#include "operation_facts.h"

namespace fieldbook {
namespace {

constexpr const char* kOwnerWords[] = {"老板", "企业主", "个体", "店主", "董事长", "总经理", "法人", "合伙人",
                                       "自营", "owner", "proprietor", "founder", "entrepreneur"};
constexpr const char* kRetiredWords[] = {"退休", "离休", "retired"};

bool Mentions(const std::string& text, const char* const* begin, const char* const* end) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) {
    return ch < 0x80 ? static_cast<char>(std::tolower(ch)) : static_cast<char>(ch);
  });
  return std::any_of(begin, end, [&](const char* w) { return lower.find(w) != std::string::npos; });
}

int AgeOn(const Date& birth, const Date& today) {
  int age = today.year - birth.year;
  if (today.month < birth.month || (today.month == birth.month && today.day < birth.day)) --age;
  return age;
}

void SuggestSegment(const CustomerFacts& f, const OperationConfig& config, const Date& today, Classification& c) {
  auto suggest = [&](const char* segment, std::string reason) {
    c.suggested_segment = segment;
    c.segment_reasons.push_back(std::move(reason));
  };
  const std::string work = f.occupation + " " + f.employer;
  if (f.kind == "company") return suggest("sme", "company customer");
  if (f.owns_company) return suggest("sme", "legal representative of a company customer");
  if (Mentions(f.occupation, std::begin(kOwnerWords), std::end(kOwnerWords))) {
    return suggest("sme", "occupation: " + f.occupation);
  }
  if (f.birth_date && AgeOn(*f.birth_date, today) >= config.elderly_age) {
    return suggest("elderly", "age " + std::to_string(AgeOn(*f.birth_date, today)));
  }
  if (Mentions(work, std::begin(kRetiredWords), std::end(kRetiredWords))) return suggest("elderly", "retired");
  for (const auto& r : f.family_relations) {
    if (r == "spouse" || r == "child") return suggest("family", "family member: " + r);
  }
  if (f.marital_status == "married") return suggest("family", "married");
  if (!f.occupation.empty()) return suggest("professional", "occupation: " + f.occupation);
  if (!f.employer.empty()) return suggest("professional", "employer: " + f.employer);
}

void SuggestTier(const CustomerFacts& f, const OperationConfig& config, Classification& c) {
  for (const auto& p : f.policies) c.annual_premium += AnnualPremium(p);
  c.prospect = f.policies.empty();
  const std::string premium = "annual premium " + std::to_string(c.annual_premium) + " fen";
  if (c.annual_premium >= config.high_premium) {
    c.suggested_tier = "high";
    c.tier_reasons.push_back(premium + " >= " + std::to_string(config.high_premium));
  } else if (f.annual_income && *f.annual_income >= config.potential_income) {
    c.suggested_tier = "potential";
    c.tier_reasons.push_back("annual income " + std::to_string(*f.annual_income) + " fen >= " +
                             std::to_string(config.potential_income));
  } else if (f.kind == "company" && f.staff_count && *f.staff_count >= config.potential_staff) {
    c.suggested_tier = "potential";
    c.tier_reasons.push_back("staff of " + std::to_string(*f.staff_count));
  } else if (c.annual_premium >= config.general_premium) {
    c.suggested_tier = "general";
    c.tier_reasons.push_back(premium + " >= " + std::to_string(config.general_premium));
  } else {
    c.suggested_tier = "low";
    c.tier_reasons.push_back(premium + " < " + std::to_string(config.general_premium));
  }
}

Result<std::optional<std::string>> OverrideOf(Store& store, std::string_view customer_id, const char* field) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT value FROM classification_overrides WHERE customer_id = ?1 AND field = ?2 AND value <> '' "
      "ORDER BY set_at DESC, id DESC LIMIT 1"));
  st.Bind(1, customer_id).Bind(2, field);
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<std::string>();
  return std::optional<std::string>(st.String(0));
}

std::string OverrideId(std::string_view customer_id, std::string_view field) {
  return DerivedId("classification_overrides|" + std::string(customer_id) + "|" + std::string(field));
}

Result<Classification> ClassifyInTxn(Archive& archive, const OperationConfig& config, std::string_view customer_id,
                                     const Date& today) {
  FB_ASSIGN_OR_RETURN(CustomerFacts f, LoadCustomerFacts(archive.store(), customer_id));
  Classification c;
  c.customer_id = f.id;
  SuggestSegment(f, config, today, c);
  SuggestTier(f, config, c);
  FB_ASSIGN_OR_RETURN(c.segment_override, OverrideOf(archive.store(), customer_id, "needs_segment"));
  FB_ASSIGN_OR_RETURN(c.tier_override, OverrideOf(archive.store(), customer_id, "value_tier"));
  c.segment = c.segment_override ? c.segment_override : c.suggested_segment ? c.suggested_segment : f.needs_segment;
  c.tier = c.tier_override ? *c.tier_override : c.suggested_tier;
  c.strategy = config.Tier(c.tier);
  c.products = c.strategy.products;
  if (c.segment) {
    auto it = config.segments.find(*c.segment);
    if (it != config.segments.end()) {
      for (const auto& p : it->second.products) {
        if (std::find(c.products.begin(), c.products.end(), p) == c.products.end()) c.products.push_back(p);
      }
    }
  }
  rapidjson::Document patch(rapidjson::kObjectType);
  auto& a = patch.GetAllocator();
  if (c.segment && c.segment != f.needs_segment) {
    patch.AddMember("needs_segment", rapidjson::Value(c.segment->c_str(), a), a);
  }
  if (c.tier != f.value_tier) patch.AddMember("value_tier", rapidjson::Value(c.tier.c_str(), a), a);
  if (patch.MemberCount() > 0) {
    FB_RETURN_IF_ERROR(archive.Set("customers", customer_id, ToJson(patch)));
    c.changed = true;
  }
  return c;
}

}  // namespace

Result<Classification> ClassifyCustomer(Archive& archive, std::string_view customer_id, const Date& today) {
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(archive.store()));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(archive.store(), profile.team));
  FB_ASSIGN_OR_RETURN(Transaction txn, archive.store().Begin());
  FB_ASSIGN_OR_RETURN(Classification c, ClassifyInTxn(archive, config, customer_id, today));
  FB_RETURN_IF_ERROR(txn.Commit());
  return c;
}

Result<std::vector<Classification>> ClassifyAll(Archive& archive, const Date& today) {
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(archive.store()));
  FB_ASSIGN_OR_RETURN(OperationConfig config, LoadOperationConfig(archive.store(), profile.team));
  FB_ASSIGN_OR_RETURN(Transaction txn, archive.store().Begin());
  std::vector<std::string> ids;
  {
    FB_ASSIGN_OR_RETURN(Statement st, archive.store().Prepare("SELECT id FROM customers ORDER BY id"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      ids.push_back(st.String(0));
    }
  }
  std::vector<Classification> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    FB_ASSIGN_OR_RETURN(Classification c, ClassifyInTxn(archive, config, id, today));
    out.push_back(std::move(c));
  }
  FB_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Status OverrideClassification(Archive& archive, std::string_view customer_id, std::string_view field,
                              std::string_view value, std::string_view reason) {
  const bool segment = field == "needs_segment";
  if (!segment && field != "value_tier") {
    return Status(ErrorCode::kInvalidField, "expected needs_segment or value_tier", "field");
  }
  if (!value.empty()) {
    const bool known = segment ? std::find(std::begin(kSegments), std::end(kSegments), value) != std::end(kSegments)
                               : std::find(std::begin(kTiers), std::end(kTiers), value) != std::end(kTiers);
    if (!known) {
      return Status(ErrorCode::kInvalidField,
                    segment ? "not a needs segment (family, professional, elderly, sme): \"" + std::string(value) + "\""
                            : "not a value tier (high, potential, general, low): \"" + std::string(value) + "\"",
                    std::string(field));
    }
  }
  FB_ASSIGN_OR_RETURN(bool exists, archive.records().Exists("customers", customer_id));
  if (!exists) return Status(ErrorCode::kNotFound, "no customer with id " + std::string(customer_id), "customer_id");
  FB_ASSIGN_OR_RETURN(WriteContext ctx, archive.Context());
  FB_ASSIGN_OR_RETURN(Transaction txn, archive.store().Begin());
  const std::string id = OverrideId(customer_id, field);
  FB_ASSIGN_OR_RETURN(bool has, archive.records().Exists("classification_overrides", id));
  // Cleared by emptying the value, never by deleting: the id is derived, and a deleted id
  // must never be created again.
  if (value.empty() && !has) return txn.Commit();
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  auto str = [&](std::string_view s) { return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a); };
  doc.AddMember("value", str(value), a);
  doc.AddMember("reason", reason.empty() ? rapidjson::Value() : str(reason), a);
  doc.AddMember("agent", str(ctx.agent), a);
  doc.AddMember("set_at", rapidjson::Value(ctx.now_ms), a);
  if (has) {
    FB_RETURN_IF_ERROR(archive.Set("classification_overrides", id, ToJson(doc)));
  } else {
    doc.AddMember("id", str(id), a);
    doc.AddMember("field", str(field), a);
    FB_ASSIGN_OR_RETURN(std::string added, archive.Add("classification_overrides", ToJson(doc), customer_id));
    (void)added;
  }
  if (value.empty()) return txn.Commit();
  rapidjson::Document patch(rapidjson::kObjectType);
  patch.AddMember(rapidjson::Value(std::string(field).c_str(), patch.GetAllocator()),
                  rapidjson::Value(std::string(value).c_str(), patch.GetAllocator()), patch.GetAllocator());
  FB_RETURN_IF_ERROR(archive.Set("customers", customer_id, ToJson(patch)));
  return txn.Commit();
}

std::string ClassificationJson(const Classification& c) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto opt = [&](const std::optional<std::string>& v) {
    if (v) {
      w.String(v->c_str());
    } else {
      w.Null();
    }
  };
  auto list = [&](const std::vector<std::string>& v) {
    w.StartArray();
    for (const auto& s : v) w.String(s.c_str());
    w.EndArray();
  };
  w.StartObject();
  w.Key("customer_id");
  w.String(c.customer_id.c_str());
  w.Key("needs_segment");
  opt(c.segment);
  w.Key("value_tier");
  w.String(c.tier.c_str());
  w.Key("suggested_segment");
  opt(c.suggested_segment);
  w.Key("segment_reasons");
  list(c.segment_reasons);
  w.Key("segment_override");
  opt(c.segment_override);
  w.Key("suggested_tier");
  w.String(c.suggested_tier.c_str());
  w.Key("tier_reasons");
  list(c.tier_reasons);
  w.Key("tier_override");
  opt(c.tier_override);
  w.Key("annual_premium");
  w.Int64(c.annual_premium);
  w.Key("status");
  w.String(c.prospect ? "prospect" : "customer");
  w.Key("strategy");
  w.StartObject();
  w.Key("service_level");
  w.String(c.strategy.service_level.c_str());
  w.Key("revisit_days");
  w.Int(c.strategy.revisit_days);
  w.Key("products");
  list(c.products);
  w.EndObject();
  w.Key("changed");
  w.Bool(c.changed);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook
