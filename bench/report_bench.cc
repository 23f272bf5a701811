// bench_report: `report` (each name) and pinyin search on a profile of 100k customers.
//
//   bench_report [--customers N] [--repeat R] [--write]
//
// Builds a synthetic book in a scratch profile (N customers with Chinese names, about 1.5
// policies, 2 visits and 1 task each), builds the pinyin index once (timed separately),
// then reports the median of R runs of each report (per-customer rows included) and of
// customer searches by pinyin initials, full pinyin and Chinese text, and the first page of
// the pinyin sort. Goal: each under 200 ms at 100k customers. --write also saves the
// report to bench/results/report.txt.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/pinyin.h"
#include "fieldbook/core/reports.h"
#include "fieldbook/core/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
constexpr double kGoalMs = 200.0;

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "bench_report: " << message << "\n";
  std::exit(1);
}

template <typename T>
T Check(fieldbook::Result<T> r, const char* what) {
  if (!r.ok()) Die(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}
void Check(const fieldbook::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

double Ms(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

const char* const kSurnames[] = {"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴",
                                 "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "单", "曾"};
const char* const kGiven[] = {"伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
                              "杰", "娟", "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华",
                              "三", "四", "田", "国", "小", "贤", "建", "文", "玉", "兰", "红", "春"};
const char* const kProvinces[] = {"广东", "北京", "上海", "浙江", "江苏", "四川"};
const char* const kProducts[] = {"康宁终身", "安康重疾", "百万医疗", "金利年金", "稳健投连"};
const char* const kTiers[] = {"high", "potential", "general", "low"};

void Build(fieldbook::Store& store, int customers) {
  std::mt19937_64 rng(42);
  auto pick = [&](auto& list) { return list[rng() % (sizeof(list) / sizeof(list[0]))]; };
  auto txn = Check(store.Begin(), "begin");
  auto cst = Check(store.Prepare("INSERT INTO customers (id, kind, name, phones, province, city, value_tier, "
                                 "owner_agent, team, created_at, updated_at) "
                                 "VALUES (?1, 'person', ?2, ?3, ?4, ?4, ?5, 'agent-1', 'team-1', 0, 0)"),
                   "prepare customers");
  auto pst = Check(store.Prepare("INSERT INTO policies (id, customer_id, policy_number, product, effective_date, "
                                 "premium, payment_frequency, status, created_at, updated_at) "
                                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'annual', 'in_force', 0, 0)"),
                   "prepare policies");
  auto vst = Check(store.Prepare("INSERT INTO visits (id, customer_id, agent, channel, visited_at, new_info, "
                                 "opportunities, next_action_date, created_at, updated_at) "
                                 "VALUES (?1, ?2, 'agent-1', 'visit', ?3, ?4, ?5, ?6, 0, 0)"),
                   "prepare visits");
  auto tst = Check(store.Prepare("INSERT INTO tasks (id, owner_agent, team, title, customer_id, due_date, done, "
                                 "created_at, updated_at) VALUES (?1, 'agent-1', 'team-1', 'call', ?2, ?3, ?4, 0, 0)"),
                   "prepare tasks");
  const int64_t jan_2026 = 1767225600000;
  for (int i = 0; i < customers; ++i) {
    const std::string id = store.NewId();
    std::string name = std::string(pick(kSurnames)) + pick(kGiven);
    if (rng() % 2) name += pick(kGiven);
    char phone[32];
    std::snprintf(phone, sizeof phone, "[\"138%08d\"]", i);
    cst.Bind(1, id).Bind(2, name).Bind(3, phone).Bind(4, pick(kProvinces)).Bind(5, pick(kTiers));
    Check(cst.Run(), "insert customer");
    cst.Reset();
    const int policies = static_cast<int>(rng() % 3);
    for (int p = 0; p < policies; ++p) {
      char date[16];
      std::snprintf(date, sizeof date, "20%02d-%02d-%02d", 15 + static_cast<int>(rng() % 11),
                    1 + static_cast<int>(rng() % 12), 1 + static_cast<int>(rng() % 28));
      pst.Bind(1, store.NewId()).Bind(2, id).Bind(3, "P" + std::to_string(i) + "-" + std::to_string(p));
      pst.Bind(4, pick(kProducts)).Bind(5, date).Bind(6, static_cast<int64_t>(100000 + rng() % 2000000));
      Check(pst.Run(), "insert policy");
      pst.Reset();
    }
    for (int v = 0; v < 2; ++v) {
      const int64_t at = jan_2026 - static_cast<int64_t>(rng() % 400) * 86400000LL;
      vst.Bind(1, store.NewId()).Bind(2, id).Bind(3, at);
      if (rng() % 3 == 0) vst.Bind(4, "新信息"); else vst.BindNull(4);
      if (rng() % 5 == 0) vst.Bind(5, "机会"); else vst.BindNull(5);
      if (rng() % 2 == 0) vst.Bind(6, "2026-01-15"); else vst.BindNull(6);
      Check(vst.Run(), "insert visit");
      vst.Reset();
    }
    char due[16];
    std::snprintf(due, sizeof due, "2026-01-%02d", 1 + static_cast<int>(rng() % 28));
    tst.Bind(1, store.NewId()).Bind(2, id).Bind(3, due).Bind(4, static_cast<int64_t>(rng() % 2));
    Check(tst.Run(), "insert task");
    tst.Reset();
  }
  Check(txn.Commit(), "commit");
}

}  // namespace

int main(int argc, char** argv) {
  fieldbook::ConfigureSqliteForProcess();
  int customers = 100000, repeat = 5;
  bool write = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--customers" && i + 1 < argc) customers = std::atoi(argv[++i]);
    else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
    else if (a == "--write") write = true;
    else Die("usage: bench_report [--customers N] [--repeat R] [--write]");
  }
  const fs::path dir = fs::temp_directory_path() / ("fieldbook-bench-report-" + std::to_string(std::random_device{}()));
  fs::create_directories(dir);
  std::ostringstream report;
  {
    auto store = Check(fieldbook::Store::Open((dir / "profile.db").string()), "open");
    Check(fieldbook::Archive::Init(*store, "agent-1", "team-1"), "init");
    auto start = Clock::now();
    Build(*store, customers);
    const double build_ms = Ms(start);
    start = Clock::now();
    Check(fieldbook::RefreshPinyinIndex(*store), "pinyin index");
    const double index_ms = Ms(start);
    start = Clock::now();
    Check(fieldbook::RefreshSearchIndex(*store), "full-text index");
    const double fts_ms = Ms(start);

    std::time_t now = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%d", std::gmtime(&now));
    report << "bench_report " << when << ": " << customers << " customers, median of " << repeat << " runs\n"
           << "  synthetic book built in " << static_cast<int>(build_ms) << " ms; pinyin index of every name built in "
           << static_cast<int>(index_ms) << " ms (once, then only for changed names)"
           << (fieldbook::PinyinAvailable() ? "" : " [no ICU: pinyin unavailable]") << "; full-text index of every "
           << "customer built in " << static_cast<int>(fts_ms) << " ms (by the first search after the writes)\n";
    bool all_ok = true;
    auto measure = [&](const std::string& label, const std::function<size_t()>& run) {
      std::vector<double> times;
      size_t size = 0;
      for (int r = 0; r < repeat; ++r) {
        const auto t0 = Clock::now();
        size = run();
        times.push_back(Ms(t0));
      }
      const double m = Median(times);
      all_ok = all_ok && m < kGoalMs;
      char line[200];
      std::snprintf(line, sizeof line, "  %-34s %8.1f ms  (%zu bytes of JSON)%s\n", label.c_str(), m, size,
                    m < kGoalMs ? "" : "  OVER GOAL");
      report << line;
    };
    for (const std::string name : {"composition", "abc", "rfm", "effect"}) {
      fieldbook::ReportOptions options;
      options.to = "2026-01-31";
      if (name == "effect") options.from = "2026-01-01";
      measure("report " + name, [&] { return Check(fieldbook::RunReport(*store, name, options), "report").size(); });
      if (name == "abc" || name == "rfm") {
        options.details = false;
        measure("report " + name + " --summary",
                [&] { return Check(fieldbook::RunReport(*store, name, options), "report").size(); });
      }
    }
    fieldbook::Archive archive(*store);
    for (const std::string text : {"zs", "zhangwei", "shantian", "张伟", "13800012"}) {
      fieldbook::ListQuery q;
      q.search = text;
      measure("customer list --search " + text, [&] { return Check(archive.List(q), "search").size(); });
      q.limit = 50;
      measure("  ... --limit 50", [&] { return Check(archive.List(q), "search").size(); });
    }
    fieldbook::ListQuery sorted;
    sorted.sort = "name";
    sorted.limit = 50;
    if (fieldbook::PinyinAvailable()) {
      measure("customer list --sort name --limit 50", [&] { return Check(archive.List(sorted), "sort").size(); });
    }
    report << "  goal: each under " << kGoalMs << " ms: " << (all_ok ? "met" : "NOT met") << "\n";
  }
  fs::remove_all(dir);
  std::cout << report.str();
  if (write) {
    std::ofstream out(std::string(FIELDBOOK_SOURCE_DIR) + "/bench/results/report.txt");
    out << report.str();
  }
  return 0;
}
