// Report dispatch, periods and scope, and the pure ABC / RFM rules.
#include <algorithm>
#include <cmath>

#include "fieldbook/core/archive.h"
#include "reports_internal.h"

namespace fieldbook {
namespace reports {

void Str(JsonWriter& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }

void WriteHeader(JsonWriter& w, std::string_view name, const Scope& scope) {
  w.Key("report");
  Str(w, name);
  w.Key("scope");
  Str(w, scope.team ? "team" : "agent");
  w.Key("agent");
  Str(w, scope.agent);
  w.Key("from");
  if (scope.has_from) Str(w, scope.from.ToString()); else w.Null();
  w.Key("to");
  Str(w, scope.to.ToString());
}

}  // namespace reports

const std::vector<std::string>& ReportNames() {
  static const std::vector<std::string> names = {"composition", "abc", "rfm", "effect"};
  return names;
}

int64_t AnnualizedPremium(int64_t premium, std::string_view frequency) {
  if (frequency == "monthly") return premium * 12;
  if (frequency == "quarterly") return premium * 4;
  if (frequency == "semiannual") return premium * 2;
  return premium;
}

std::vector<char> AbcClasses(const std::vector<int64_t>& premiums_desc) {
  long double total = 0;
  for (int64_t p : premiums_desc) total += static_cast<long double>(std::max<int64_t>(p, 0));
  std::vector<char> out;
  out.reserve(premiums_desc.size());
  long double before = 0;
  for (int64_t p : premiums_desc) {
    char c = 'C';
    if (p > 0 && total > 0) {
      if (before * 100 < total * 80) c = 'A';
      else if (before * 100 < total * 95) c = 'B';
    }
    out.push_back(c);
    before += static_cast<long double>(std::max<int64_t>(p, 0));
  }
  return out;
}

std::vector<int> QuintileScores(const std::vector<std::optional<double>>& values) {
  const size_t n = values.size();
  // Sorted as (has a value, value, index) side by side: indices into `values` sorted
  // through it fetch two scattered optionals per comparison.
  struct Entry {
    bool has;
    double value;  // 0 when missing: missing values are all equal, and below every value
    size_t at;
  };
  std::vector<Entry> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = Entry{values[i].has_value(), values[i].value_or(0.0), i};
  auto less = [](const Entry& a, const Entry& b) {
    if (a.has != b.has) return b.has;
    return a.value < b.value;
  };
  std::sort(order.begin(), order.end(), less);
  std::vector<int> scores(n, 1);
  size_t worse = 0;  // customers with a strictly lower value than the current run
  for (size_t k = 0; k < n;) {
    size_t end = k;
    while (end < n && !less(order[k], order[end])) ++end;  // the run of equal values
    const int score = 1 + static_cast<int>((5 * worse) / n);
    for (size_t j = k; j < end; ++j) scores[order[j].at] = std::min(score, 5);
    worse = end;
    k = end;
  }
  return scores;
}

Result<std::string> RunReport(Store& store, std::string_view name, const ReportOptions& options) {
  const auto& names = ReportNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    return Status(ErrorCode::kInvalidArgument,
                  "unknown report \"" + std::string(name) + "\" (composition, abc, rfm or effect)", "name");
  }
  FB_ASSIGN_OR_RETURN(Profile profile, Archive::LoadProfile(store));
  reports::Scope scope;
  scope.agent = profile.agent;
  scope.team = options.team;
  if (options.to.empty()) {
    scope.to = DateOfMs(store.env().NowMs() + reports::kCstOffsetMs);
  } else {
    auto to = ParseDate(options.to);
    if (!to.ok()) return Status(ErrorCode::kInvalidArgument, "must be a date YYYY-MM-DD: " + options.to, "to");
    scope.to = *to;
  }
  if (!options.from.empty()) {
    auto from = ParseDate(options.from);
    if (!from.ok()) return Status(ErrorCode::kInvalidArgument, "must be a date YYYY-MM-DD: " + options.from, "from");
    scope.from = *from;
    scope.has_from = true;
  } else if (name == "rfm") {
    scope.from = scope.to.AddDays(-364);  // the year ending on `to`
    scope.has_from = true;
  } else if (name == "effect") {
    scope.from = Date{scope.to.year, scope.to.month, 1};  // the month so far
    scope.has_from = true;
  }
  if (scope.has_from && scope.to < scope.from) {
    return Status(ErrorCode::kInvalidArgument, "is after --to", "from");
  }
  scope.from_ms = scope.has_from ? MsOfDate(scope.from) - reports::kCstOffsetMs : INT64_MIN;
  scope.to_end_ms = MsOfDate(scope.to.AddDays(1)) - reports::kCstOffsetMs - 1;
  FB_ASSIGN_OR_RETURN(scope.share, ReadBeside::Worthwhile(store));
  // One snapshot for the whole report.
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin(TxnMode::kDeferred));
  Result<std::string> out = Status(ErrorCode::kInternal, "no report ran");
  if (name == "composition") out = reports::Composition(store, scope);
  else if (name == "abc") out = reports::Abc(store, scope, options.details);
  else if (name == "rfm") out = reports::Rfm(store, scope, options.details);
  else out = reports::Effect(store, scope);
  if (!out.ok()) return out.status();
  FB_RETURN_IF_ERROR(txn.Commit());
  return out;
}

}  // namespace fieldbook
