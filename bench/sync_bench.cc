// bench_sync: the sync engine's figures against its targets, all measured in one run.
//
//   capture overhead   import of the 10k customers with change capture, against the same
//                      import without it and against a raw SQLite insert of the rows
//                      (target: capture <= 2x)
//   initial sync       10k customers device A -> server -> fresh device B over loopback
//                      HTTP (target <= 0.5 s, <= 2 MB on the wire)
//   concurrent edits   2,000 different-field edits on 1,000 customers from two devices
//                      (target: 0 lost)
//   no-op sync         a device with nothing to push or pull (target <= 5 ms)
//   client memory      peak RSS of the fieldbook CLI pulling 100k customers (<= 64 MB)
//
// Usage: bench_sync [--data FILE] [--large N] [--rounds N] [--initial-only] [--write]
//   --rounds N       initial syncs to run, each with a fresh server, A and B (default 5); the
//                    median round is reported, with the fastest and slowest
//   --initial-only   only the initial sync (to compare builds quickly)
//   --write          stores the report in bench/results/sync.txt
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/store.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/server/http_api.h"
#include "fieldbook/server/http_server.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/erasure.h"
#include "fieldbook/sync/client.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/core/archive_schema.h"

namespace fs = std::filesystem;
using namespace fieldbook;
using Clock = std::chrono::steady_clock;

namespace {

std::ostringstream report;

void Line(const std::string& s) {
  std::cout << s << std::endl;
  report << s << "\n";
}

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

[[noreturn]] void Die(const std::string& what, const Status& s) {
  std::cerr << "bench_sync: " << what << ": " << s.ToString() << "\n";
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

void MustOk(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

std::unique_ptr<Store> OpenDevice(const std::string& path, bool capture) {
  auto store = Must(Store::Open(path), "open " + path);
  if (capture) MustOk(sync::AttachSync(*store), "attach sync");
  MustOk(Archive::Init(*store, "agent-bench", "team-bench"), "init");
  return store;
}

double Import(Store& store, const std::string& file) {
  Archive archive(store);
  std::ifstream in(file, std::ios::binary);
  const auto t0 = Clock::now();
  Must(archive.ImportJsonl(in, 0, nullptr), "import " + file);
  return Seconds(t0, Clock::now());
}

// The same rows, raw: one prepared INSERT into a plain table, one transaction.
double RawInsert(const std::string& path, const std::string& file) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr);
  sqlite3_exec(db,
               "CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, phones TEXT, email TEXT, birth_date TEXT,"
               " street TEXT, city TEXT, postal_code TEXT, country TEXT, value_tier TEXT, interests TEXT,"
               " annual_income INTEGER, notes TEXT, legacy_owner TEXT, external_ref TEXT, created_at INTEGER) STRICT",
               nullptr, nullptr, nullptr);
  std::vector<std::string> lines;
  {
    std::ifstream in(file);
    for (std::string l; std::getline(in, l);) lines.push_back(std::move(l));
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO customers VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)", -1, &st,
                     nullptr);
  const auto t0 = Clock::now();
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  int n = 0;
  for (const auto& l : lines) {
    rapidjson::Document d;
    d.Parse(l.c_str());
    auto s = [&](const char* k) { return d.HasMember(k) && d[k].IsString() ? d[k].GetString() : ""; };
    sqlite3_bind_text(st, 1, ("id-" + std::to_string(++n)).c_str(), -1, SQLITE_TRANSIENT);
    const char* keys[] = {"name", "phone", "email", "birthday", "street", "city", "postal_code", "country", "tier"};
    for (int i = 0; i < 9; ++i) sqlite3_bind_text(st, i + 2, s(keys[i]), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 11, d.HasMember("needs") ? ToJson(d["needs"]).c_str() : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 12, d.HasMember("income") && d["income"].IsNumber() ? static_cast<int64_t>(d["income"].GetDouble() * 100) : 0);
    sqlite3_bind_text(st, 13, s("notes"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 14, s("agent_id"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 15, s("id"), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 16, 0);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  const double s = Seconds(t0, Clock::now());
  sqlite3_finalize(st);
  sqlite3_close(db);
  return s;
}

struct Server {
  std::string secret = "bench-secret-0123456789abcdef";
  std::unique_ptr<server::ServerBackend> backend;
  std::unique_ptr<server::Api> api;
  std::unique_ptr<server::HttpServer> http;
  std::string url;

  explicit Server(const std::string& path) {
    backend = Must(server::OpenSqliteBackend(path), "server backend");
    server::ApiConfig config;
    config.secret = secret;
    for (const auto& t : ArchiveRegistry().tables()) config.service.tables.push_back(&t);
    config.service.tables.push_back(&sync::ConflictsTable());
    config.service.tables.push_back(&sync::ErasuresTable());
    config.service.max_page = 5000;
    api = std::make_unique<server::Api>(*backend, SystemEnv(), config);
    server::HttpServerConfig http_config;
    http_config.threads = 2;
    http = Must(server::HttpServer::Start(*api, http_config), "http server");
    url = "http://127.0.0.1:" + std::to_string(http->port());
  }
  std::string Token() const {
    server::TokenClaims c;
    c.tenant = "bench";
    c.agent = "agent-bench";
    c.team = "team-bench";
    c.role = server::Role::kAgent;
    c.issued_at_ms = SystemEnv().NowMs();
    c.expires_at_ms = c.issued_at_ms + 3600 * 1000;
    c.id = "bench-token";
    return server::SignToken(c, secret);
  }
};

sync::SyncReport Sync(Store& store, const std::string& url, const std::string& token, int page = 2500) {
  auto transport = Must(sync::MakeCpprestTransport(url), "transport");
  sync::SyncClient client(store, *transport);
  sync::SyncOptions options;
  options.token = token;
  options.page_limit = page;
  return Must(client.Sync(options), "sync");
}

int64_t Count(Store& store, const std::string& sql) {
  auto st = Must(store.Prepare(sql), sql);
  Must(st.Step(), sql);
  return st.Int(0);
}

// VmHWM of a running process in KB (0 once it is gone).
long PeakRssKbOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// Runs the fieldbook CLI and returns its peak resident set in KB. Read from /proc while
// it runs: the rusage of a forked child also counts the pages it shared with this (large)
// process before exec.
long ChildPeakRssKb(const std::vector<std::string>& argv) {
  // Closed by the child's exec: until then its VmHWM is still this process's.
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    std::perror("bench_sync: pipe2");
    std::exit(1);
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(exec_pipe[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    execv(args[0], args.data());
    _exit(127);
  }
  close(exec_pipe[1]);
  char byte;
  while (read(exec_pipe[0], &byte, 1) > 0) {
  }
  close(exec_pipe[0]);
  int status = 0;
  long peak = 0;
  for (;;) {
    // The high-water mark of the new image only grows; keep the last one read.
    const long hwm = PeakRssKbOf(pid);
    if (hwm > 0) peak = std::max(peak, hwm);
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    usleep(2000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "bench_sync: " << argv[0] << " failed\n";
    std::exit(1);
  }
  return peak;
}

std::string Repeat(const std::string& file, int copies, const fs::path& dir) {
  const fs::path out = dir / ("customers-x" + std::to_string(copies) + ".jsonl");
  std::ofstream o(out);
  std::ifstream in0(file);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in0, l);) lines.push_back(l);
  for (int c = 0; c < copies; ++c) {
    for (const auto& l : lines) {
      std::string x = l;
      const size_t at = x.find("\"id\":\"");
      if (at != std::string::npos) x.insert(at + 6, "c" + std::to_string(c) + "-");
      o << x << "\n";
    }
  }
  return out.string();
}

}  // namespace

int main(int argc, char** argv) {
  fieldbook::ConfigureSqliteForProcess();
  std::string data = std::string(FIELDBOOK_SOURCE_DIR) + "/../shared/bench/customers-10k.jsonl";
  int large = 100000;
  int rounds = 5;
  bool write = false;
  bool initial_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) data = argv[++i];
    else if (a == "--large" && i + 1 < argc) large = std::atoi(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--initial-only") initial_only = true;
    else if (a == "--write") write = true;
  }
  if (!fs::exists(data)) {
    std::cerr << "bench_sync: no data file " << data << " (use --data FILE)\n";
    return 2;
  }
  const fs::path dir = fs::temp_directory_path() / ("fieldbook-bench-sync-" + std::to_string(getpid()));
  fs::create_directories(dir);
  int64_t rows = 0;
  {
    std::ifstream in(data);
    for (std::string l; std::getline(in, l);) ++rows;
  }
  Line("bench_sync: " + std::to_string(rows) + " customers from " + fs::path(data).filename().string());

  // 1. Capture overhead.
  if (!initial_only) {
    double with = 0, without = 0, raw = 0;
    for (int round = 0; round < 3; ++round) {  // best of three
      auto a = OpenDevice((dir / ("cap" + std::to_string(round) + ".db")).string(), true);
      auto b = OpenDevice((dir / ("nocap" + std::to_string(round) + ".db")).string(), false);
      const double w = Import(*a, data), wo = Import(*b, data);
      const double r = RawInsert((dir / ("raw" + std::to_string(round) + ".db")).string(), data);
      with = round == 0 ? w : std::min(with, w);
      without = round == 0 ? wo : std::min(without, wo);
      raw = round == 0 ? r : std::min(raw, r);
    }
    Line("capture: import " + Fmt("%.3f", with) + " s with change capture, " + Fmt("%.3f", without) +
         " s without; raw SQLite insert " + Fmt("%.3f", raw) + " s");
    Line("capture overhead: " + Fmt("%.2f", with / without) + "x the same import without capture (target <= 2x); " +
         Fmt("%.2f", with / raw) + "x a raw insert into a plain table");
  }

  // 2. Initial sync A -> server -> B, in `rounds` rounds (a fresh server, A and B each);
  // this machine's speed moves between runs, so the median round is the figure.
  struct Round {
    double push = 0, pull = 0;
    sync::SyncReport pushed, pulled;
    int64_t got = 0;
    double total() const { return push + pull; }
  };
  std::vector<Round> done;
  std::unique_ptr<Server> server;
  std::string token;
  std::unique_ptr<Store> device_a, device_b;
  for (int round = 0; round < rounds; ++round) {
    const std::string tag = std::to_string(round);
    device_a.reset();
    device_b.reset();
    server = std::make_unique<Server>((dir / ("server-" + tag + ".db")).string());
    token = server->Token();
    device_a = OpenDevice((dir / ("a-" + tag + ".db")).string(), true);
    Import(*device_a, data);
    Round r;
    const auto t0 = Clock::now();
    r.pushed = Sync(*device_a, server->url, token);
    const auto t1 = Clock::now();
    device_b = OpenDevice((dir / ("b-" + tag + ".db")).string(), true);
    const auto t2 = Clock::now();
    r.pulled = Sync(*device_b, server->url, token);
    const auto t3 = Clock::now();
    r.push = Seconds(t0, t1);
    r.pull = Seconds(t2, t3);
    r.got = Count(*device_b, "SELECT count(*) FROM customers");
    if (r.got != rows) {
      std::cerr << "bench_sync: B holds " << r.got << " customers after the initial sync, not " << rows << "\n";
      return 1;
    }
    done.push_back(r);
  }
  std::vector<Round> by_total = done;
  std::sort(by_total.begin(), by_total.end(), [](const Round& a, const Round& b) { return a.total() < b.total(); });
  const Round& median = by_total[by_total.size() / 2];
  const sync::SyncReport& push = median.pushed;
  const sync::SyncReport& pull = median.pulled;
  const double wire_mb = static_cast<double>(push.bytes_sent + push.bytes_received + pull.bytes_sent + pull.bytes_received) / 1e6;
  std::string each;
  for (const Round& r : done) each += (each.empty() ? "" : ", ") + Fmt("%.3f", r.total());
  Line("initial sync: A pushes " + std::to_string(push.pushed) + " rows in " + Fmt("%.3f", median.push) +
       " s, fresh B pulls " + std::to_string(median.got) + " in " + Fmt("%.3f", median.pull) + " s; total " +
       Fmt("%.3f", median.total()) + " s (target <= 0.5 s)");
  Line("initial sync, " + std::to_string(rounds) + " rounds: median " + Fmt("%.3f", median.total()) + " s, min " +
       Fmt("%.3f", by_total.front().total()) + " s, max " + Fmt("%.3f", by_total.back().total()) + " s (" + each + ")");
  Line("initial sync on the wire: " + Fmt("%.2f", wire_mb) + " MB (push " +
       Fmt("%.2f", static_cast<double>(push.bytes_sent) / 1e6) + " MB, pull " +
       Fmt("%.2f", static_cast<double>(pull.bytes_received) / 1e6) + " MB; target <= 2 MB)");

  if (initial_only) return 0;
  // 3. 2,000 concurrent different-field edits on 1,000 customers.
  {
    auto ids_st = Must(device_a->Prepare("SELECT id FROM customers ORDER BY id LIMIT 1000"), "ids");
    std::vector<std::string> ids;
    while (Must(ids_st.Step(), "ids")) ids.push_back(ids_st.String(0));
    Archive aa(*device_a), bb(*device_b);
    for (size_t i = 0; i < ids.size(); ++i) {
      MustOk(aa.Set("customers", ids[i], R"({"occupation":"a-)" + std::to_string(i) + "\"}"), "edit a");
      MustOk(bb.Set("customers", ids[i], R"({"employer":"b-)" + std::to_string(i) + "\"}"), "edit b");
    }
    Sync(*device_a, server->url, token);
    const sync::SyncReport rb = Sync(*device_b, server->url, token);
    Sync(*device_a, server->url, token);
    int64_t lost = 0;
    for (Store* s : {device_a.get(), device_b.get()}) {
      lost += Count(*s, "SELECT count(*) FROM customers WHERE id IN (SELECT id FROM customers ORDER BY id LIMIT 1000) "
                        "AND (occupation NOT LIKE 'a-%' OR occupation IS NULL OR employer NOT LIKE 'b-%' OR employer IS NULL)");
    }
    Line("concurrent edits: 2000 different-field edits on 1000 customers from two devices: " + std::to_string(lost) +
         " lost, " + std::to_string(rb.conflicts) + " conflicts (target: 0 lost)");
  }

  // 4. No-op sync.
  {
    std::vector<double> ms;
    for (int i = 0; i < 50; ++i) {
      const auto s0 = Clock::now();
      Sync(*device_a, server->url, token);
      ms.push_back(Seconds(s0, Clock::now()) * 1000);
    }
    std::sort(ms.begin(), ms.end());
    Line("no-op sync: median " + Fmt("%.2f", ms[ms.size() / 2]) + " ms, p95 " + Fmt("%.2f", ms[ms.size() * 95 / 100]) +
         " ms over 50 (target <= 5 ms)");
  }

  // 5. Client memory pulling a large archive (the CLI in its own process).
  if (large > 0) {
    const int copies = static_cast<int>((large + rows - 1) / rows);
    const std::string big = Repeat(data, copies, dir);
    Server big_server((dir / "big-server.db").string());
    const std::string big_token = big_server.Token();
    auto seed = OpenDevice((dir / "seed.db").string(), true);
    Import(*seed, big);
    Sync(*seed, big_server.url, big_token);
    seed.reset();
    const std::string cli = (fs::path(argv[0]).parent_path() / "fieldbook").string();
    const std::string db = (dir / "fresh.db").string();
    ChildPeakRssKb({cli, "--db", db, "init", "--agent", "agent-bench", "--team", "team-bench"});
    const auto p0 = Clock::now();
    const long kb = ChildPeakRssKb({cli, "--db", db, "sync", "--server", big_server.url, "--token", big_token});
    const double secs = Seconds(p0, Clock::now());
    Line("client memory: fieldbook pulled " + std::to_string(copies * rows) + " customers in " + Fmt("%.2f", secs) +
         " s with peak RSS " + Fmt("%.1f", static_cast<double>(kb) / 1024) + " MB (target <= 64 MB)");
  }

  fs::remove_all(dir);
  if (write) {
    const fs::path out = fs::path(FIELDBOOK_SOURCE_DIR) / "bench" / "results" / "sync.txt";
    fs::create_directories(out.parent_path());
    std::ofstream(out) << report.str();
    std::cout << "written to " << out << "\n";
  }
  return 0;
}
