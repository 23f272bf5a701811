#include "operation_facts.h"

#include <algorithm>

namespace fieldbook {

bool PolicyActive(const PolicyFact& p) {
  return p.status == "in_force" || p.status == "grace" || p.status == "pending";
}

int64_t AnnualPremium(const PolicyFact& p) {
  if (p.status != "in_force" && p.status != "grace") return 0;
  if (p.frequency == "annual") return p.premium;
  if (p.frequency == "semiannual") return p.premium * 2;
  if (p.frequency == "quarterly") return p.premium * 4;
  if (p.frequency == "monthly") return p.premium * 12;
  return p.premium / 10;  // single
}

Result<CustomerFacts> LoadCustomerFacts(Store& store, std::string_view customer_id) {
  CustomerFacts f;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT id, kind, name, birth_date, occupation, employer, marital_status, annual_income, staff_count, "
        "needs_segment, value_tier, lifecycle_stage, last_contact_at, created_at, "
        "(SELECT MAX(visited_at) FROM visits WHERE customer_id = c.id), "
        "EXISTS(SELECT 1 FROM customers o WHERE o.kind = 'company' AND o.legal_rep = c.name AND o.id <> c.id) "
        "FROM customers c WHERE id = ?1"));
    st.Bind(1, customer_id);
    FB_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return Status(ErrorCode::kNotFound, "no customer with id " + std::string(customer_id), "customer_id");
    f.id = st.String(0);
    f.kind = st.String(1);
    f.name = st.String(2);
    if (!st.IsNull(3)) {
      auto d = ParseDate(st.Text(3));
      if (d.ok()) f.birth_date = *d;
    }
    f.occupation = st.String(4);
    f.employer = st.String(5);
    f.marital_status = st.String(6);
    f.annual_income = st.OptInt(7);
    f.staff_count = st.OptInt(8);
    f.needs_segment = st.OptString(9);
    f.value_tier = st.OptString(10);
    f.lifecycle_stage = st.OptString(11);
    f.last_contact_ms = std::max(st.OptInt(12).value_or(0), st.OptInt(14).value_or(0));
    f.created_at = st.OptInt(13).value_or(0);
    f.owns_company = st.Int(15) != 0;
  }
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT relation FROM family_members WHERE customer_id = ?1"));
    st.Bind(1, customer_id);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      f.family_relations.push_back(st.String(0));
    }
  }
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT status, premium, payment_frequency, term_years, effective_date, created_at, updated_at "
        "FROM policies WHERE customer_id = ?1 ORDER BY created_at, id"));
    st.Bind(1, customer_id);
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PolicyFact p;
      p.status = st.String(0);
      p.premium = st.Int(1);
      p.frequency = st.String(2);
      p.term_years = st.OptInt(3);
      if (!st.IsNull(4)) {
        auto d = ParseDate(st.Text(4));
        if (d.ok()) p.effective = *d;
      }
      p.created_at = st.OptInt(5).value_or(0);
      p.updated_at = st.OptInt(6).value_or(0);
      f.policies.push_back(std::move(p));
    }
  }
  return f;
}

}  // namespace fieldbook
