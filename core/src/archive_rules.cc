// Rules of the customer archive beyond single-column formats: identity documents checked
// against their type, company-only fields, list sources with their legal basis, children
// kept under the same customer as the policy they belong to, and defaults.
#include "archive_rules.h"

#include <cctype>

#include "fieldbook/core/audit.h"
#include "fieldbook/core/relations.h"
#include "fieldbook/core/service_quality.h"
#include "fieldbook/core/validation.h"
#include "operation_rules.h"

namespace fieldbook {
namespace {

Status FieldError(ErrorCode code, std::string message, std::string field) {
  return Status(code, std::move(message), std::move(field));
}

// id_number is checked against id_type; a resident ID also fills or checks birth date and
// gender when the row has those columns.
Status CheckIdDocument(RowValues& row) {
  auto number = row.Text("id_number");
  if (!number) return Status::Ok();
  auto type = row.Text("id_type");
  if (!type) {
    // An 18-character number without a type is taken to be a resident ID.
    if (number->size() == 18) {
      row.Set("id_type", Value{std::string("resident_id")});
      type = "resident_id";
    } else {
      return FieldError(ErrorCode::kMissingField, "is required when id_number is given", "id_type");
    }
  }
  if (*type != "resident_id") {
    if (number->size() < 4) return FieldError(ErrorCode::kInvalidField, "too short for an identity document", "id_number");
    for (unsigned char ch : *number) {
      if (!std::isalnum(ch) && ch != '-' && ch != '(' && ch != ')') {
        return FieldError(ErrorCode::kInvalidField, "identity document numbers hold letters, digits and dashes only", "id_number");
      }
    }
    return Status::Ok();
  }
  auto normalized = NormalizeResidentId(*number);
  if (!normalized.ok()) return normalized.status().WithFieldPrefix("id_number");
  row.Set("id_number", Value{*normalized});
  const ResidentIdFacts facts = ResidentIdInfo(*normalized);
  if (row.table->IndexOf("birth_date") >= 0) {
    auto birth = row.Text("birth_date");
    if (!birth) {
      row.Set("birth_date", Value{facts.birth_date.ToString()});
    } else if (*birth != facts.birth_date.ToString()) {
      return FieldError(ErrorCode::kInvalidField,
                        "does not match the birth date in the resident ID number",
                        "birth_date");
    }
  }
  if (row.table->IndexOf("gender") >= 0) row.SetDefault("gender", Value{std::string(facts.male ? "male" : "female")});
  return Status::Ok();
}

Status CustomerRule(Store&, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  row.SetDefault("kind", Value{std::string("person")});
  if (!before) {
    row.SetDefault("owner_agent", Value{ctx.agent});
    if (!ctx.team.empty()) row.SetDefault("team", Value{ctx.team});
    row.SetDefault("lifecycle_stage", Value{std::string("lead")});
  }
  if (auto name = row.Text("name"); name && name->find_first_not_of(" \t\r\n") == std::string::npos) {
    return FieldError(ErrorCode::kInvalidField, "may not be blank", "name");
  }
  const bool company = row.Text("kind") == "company";
  if (!company) {
    for (const char* field : {"credit_code", "license_number", "legal_rep", "industry", "staff_count", "contacts"}) {
      if (row.Get(field)) {
        return FieldError(ErrorCode::kInvalidField, "applies to company customers only (kind is person)", field);
      }
    }
  }
  if (row.Text("source") == "list") {
    auto basis = row.Text("source_legal_basis");
    if (!basis || basis->empty()) {
      return FieldError(ErrorCode::kMissingField,
                        "customers from a purchased or public list need the recorded legal basis", "source_legal_basis");
    }
  }
  if (auto contacts = row.Get("contacts")) {
    auto doc = ParseJson(*AsText(*contacts), "contacts");
    for (const auto& c : doc->GetArray()) {
      if (!c.IsObject() || !c.HasMember("name") || !c["name"].IsString()) {
        return FieldError(ErrorCode::kInvalidField, "each contact is an object with at least a \"name\"", "contacts");
      }
    }
  }
  return CheckIdDocument(row);
}

Status PersonChildRule(Store&, RowValues& row, const RowValues*, const WriteContext&) {
  return CheckIdDocument(row);
}

// A row that names both a customer and a policy must name the policy's own customer, so
// that every row of a customer's archive travels (and is reassigned) with that customer.
Status SameCustomerAsPolicy(Store& store, RowValues& row) {
  auto policy_id = row.Text("policy_id");
  auto customer_id = row.Text("customer_id");
  if (!policy_id) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT customer_id, is_group FROM policies WHERE id = ?1"));
  st.Bind(1, *policy_id);
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return FieldError(ErrorCode::kNotFound, "no policy with id " + *policy_id, "policy_id");
  const std::string owner = st.String(0);
  if (!customer_id) {
    row.Set("customer_id", Value{owner});
  } else if (*customer_id != owner) {
    return FieldError(ErrorCode::kInvalidField, "policy " + *policy_id + " belongs to another customer", "policy_id");
  }
  if (row.table->name == "group_members" && st.Int(1) != 1) {
    return FieldError(ErrorCode::kInvalidField, "policy " + *policy_id + " is not a group policy", "policy_id");
  }
  return Status::Ok();
}

Status PolicyRoleRule(Store& store, RowValues& row, const RowValues*, const WriteContext&) {
  FB_RETURN_IF_ERROR(SameCustomerAsPolicy(store, row));
  if (row.Text("role") != "beneficiary" && row.Get("share_percent")) {
    return FieldError(ErrorCode::kInvalidField, "only beneficiaries have a share", "share_percent");
  }
  auto party_type = row.Text("party_type");
  auto party_id = row.Text("party_id");
  if (party_type == "family_member" && party_id) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT customer_id FROM family_members WHERE id = ?1"));
    st.Bind(1, *party_id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found || st.String(0) != row.Text("customer_id")) {
      return FieldError(ErrorCode::kNotFound, "no family member " + *party_id + " of this customer", "party_id");
    }
  }
  return Status::Ok();
}

Status GroupMemberRule(Store& store, RowValues& row, const RowValues*, const WriteContext&) {
  FB_RETURN_IF_ERROR(SameCustomerAsPolicy(store, row));
  row.SetDefault("status", Value{std::string(row.Get("left_on") ? "left" : "active")});
  return CheckIdDocument(row);
}

Status ClaimRule(Store& store, RowValues& row, const RowValues*, const WriteContext&) {
  return SameCustomerAsPolicy(store, row);
}

Status PolicyRule(Store&, RowValues& row, const RowValues*, const WriteContext&) {
  row.SetDefault("status", Value{std::string("in_force")});
  row.SetDefault("is_group", Value{int64_t{0}});
  if (row.Text("payment_frequency") == "single" && row.Get("payment_due_date")) {
    return FieldError(ErrorCode::kInvalidField, "a single-premium policy has no next payment due date", "payment_due_date");
  }
  auto effective = row.Text("effective_date");
  auto due = row.Text("payment_due_date");
  if (effective && due && *due < *effective) {
    return FieldError(ErrorCode::kInvalidField, "next payment due date " + *due + " is before the effective date", "payment_due_date");
  }
  return Status::Ok();
}

Status VisitRule(Store&, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  if (!before) {
    row.SetDefault("visited_at", Value{ctx.now_ms});
    row.SetDefault("agent", Value{ctx.agent});
  }
  if ((row.Get("latitude") == nullptr) != (row.Get("longitude") == nullptr)) {
    return FieldError(ErrorCode::kInvalidField, "latitude and longitude go together", row.Get("latitude") ? "longitude" : "latitude");
  }
  return Status::Ok();
}

Status TaskRule(Store& store, RowValues& row, const RowValues* before, const WriteContext& ctx) {
  if (!before) {
    row.SetDefault("owner_agent", Value{ctx.agent});
    if (!ctx.team.empty()) row.SetDefault("team", Value{ctx.team});
    row.SetDefault("done", Value{int64_t{0}});
    row.SetDefault("kind", Value{std::string("follow_up")});
    row.SetDefault("priority", Value{std::string("normal")});
  }
  const bool done = row.Int("done").value_or(0) == 1;
  if (done) {
    row.SetDefault("done_at", Value{ctx.now_ms});
  } else if (row.Get("done_at")) {
    row.Set("done_at", Value{});
  }
  if (auto customer = row.Text("customer_id"); customer && (!before || before->Text("customer_id") != customer)) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT 1 FROM customers WHERE id = ?1"));
    st.Bind(1, *customer);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return FieldError(ErrorCode::kNotFound, "no customer with id " + *customer, "customer_id");
  }
  return Status::Ok();
}

}  // namespace

Status InRange(const RowValues& row, const char* column, int64_t lo, int64_t hi) {
  auto v = row.Int(column);
  if (v && (*v < lo || *v > hi)) {
    return Status(ErrorCode::kInvalidField, "must be between " + std::to_string(lo) + " and " + std::to_string(hi),
                  column);
  }
  return Status::Ok();
}

std::map<std::string, TableRule, std::less<>> ArchiveRules() {
  std::map<std::string, TableRule, std::less<>> rules{
      {"customers", CustomerRule},   {"family_members", PersonChildRule},
      {"policies", PolicyRule},      {"policy_roles", PolicyRoleRule},
      {"group_members", GroupMemberRule}, {"claims", ClaimRule},
      {"visits", VisitRule},         {"tasks", TaskRule},
  };
  AddOperationRules(rules);
  AddRelationsRules(rules);
  AddServiceQualityRules(rules);
  rules.emplace(std::string(kAccessAuditTable), AuditTableRule);
  return rules;
}

}  // namespace fieldbook
