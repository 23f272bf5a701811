// bench_load: many simulated devices syncing against fieldbook-server at once.
//
// Each device is one keep-alive HTTP/1.1 connection driven by Boost.Asio on one thread,
// with its own token (signed with the server's secret by the server's token code). Pairs
// of devices belong to one agent, so what one pushes the other pulls. Every round a
// device pushes a realistic batch (new customers, visits, edits of its customers) through
// the real protocol encoder and then pulls until `more` is false; rounds repeat every
// --interval-ms (jittered). Every HTTP request's latency is recorded; an error is any
// answer but 200, a decode failure or a connection failure.
//
// The bench starts the server instances itself (SQLite in a temporary directory, or a
// fresh PostgreSQL database created through --postgres-server and dropped afterwards), so
// each configuration starts from an empty database.
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fieldbook/core/env.h"
#include "fieldbook/server/auth.h"
#include "fieldbook/sync/protocol.h"

extern char** environ;

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using fieldbook::Value;
namespace sync = fieldbook::sync;
namespace server = fieldbook::server;

const char* const kSecret = "load-bench-secret-0123456789abcdef";

struct Options {
  std::string server_bin;
  std::vector<std::string> backends = {"sqlite"};
  std::vector<int> instances = {1, 2};
  std::string postgres_server;  // libpq conninfo without dbname, for CREATE DATABASE
  int devices = 500;
  int duration_s = 60;
  int interval_ms = 5000;
  int threads = 0;  // server --threads, 0: its default
  std::string write;
};

struct Stats {
  std::vector<double> latencies_ms;
  int64_t requests = 0, errors = 0, changes = 0, rows_pulled = 0, rounds = 0;
  std::vector<std::string> error_samples;
  void Error(std::string what) {
    ++errors;
    if (error_samples.size() < 5) error_samples.push_back(std::move(what));
  }
};

std::string Pick(std::mt19937_64& rng, const std::vector<std::string>& from) { return from[rng() % from.size()]; }

// One simulated device: a connection and the sync state a real client keeps.
class Device : public std::enable_shared_from_this<Device> {
 public:
  Device(net::io_context& ioc, tcp::endpoint endpoint, int index, Stats& stats, const Options& o, Clock::time_point end)
      : socket_(ioc), timer_(ioc), endpoint_(endpoint), index_(index), stats_(stats), o_(o), end_(end),
        rng_(static_cast<uint64_t>(index) * 7919 + 17) {
    const int agent = index / 2;
    agent_ = "agent-" + std::to_string(agent);
    team_ = "team-" + std::to_string(agent % 25);
    site_ = "load-site-" + std::to_string(index);
    server::TokenClaims claims;
    claims.tenant = "t1";
    claims.agent = agent_;
    claims.team = team_;
    claims.issued_at_ms = fieldbook::SystemEnv().NowMs();
    claims.expires_at_ms = claims.issued_at_ms + 24 * 3600 * 1000;
    claims.id = site_;
    token_ = server::SignToken(claims, kSecret);
  }

  void Start() {
    const auto first = std::chrono::milliseconds(rng_() % static_cast<uint64_t>(o_.interval_ms));
    Connect(first);
  }

 private:
  void Connect(std::chrono::milliseconds delay) {
    timer_.expires_after(delay);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || Clock::now() >= self->end_) return;
      self->socket_ = tcp::socket(self->socket_.get_executor());
      self->socket_.async_connect(self->endpoint_, [self](boost::system::error_code ec2) {
        if (ec2) {
          self->stats_.Error("connect: " + ec2.message());
          return self->Connect(std::chrono::milliseconds(self->o_.interval_ms));
        }
        self->socket_.set_option(tcp::no_delay(true));
        self->Round();
      });
    });
  }

  void Schedule() {
    const int jitter = o_.interval_ms / 5;
    const int wait = o_.interval_ms - jitter + static_cast<int>(rng_() % static_cast<uint64_t>(2 * jitter + 1));
    timer_.expires_after(std::chrono::milliseconds(wait));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->Round();
    });
  }

  sync::PushChange Create(const std::string& table, std::vector<std::pair<std::string, Value>> cells) {
    sync::PushChange c;
    c.table = table;
    c.id = site_ + "-" + std::to_string(++ids_);
    c.op = sync::PushChange::Op::kCreate;
    c.hlc = Tick();
    c.seen = cursor_;
    for (auto& [col, v] : cells) c.cells.push_back(sync::PushCell{col, std::move(v), c.hlc, cursor_, std::nullopt});
    return c;
  }
  sync::Hlc Tick() {
    hlc_ = sync::NextHlc(hlc_, fieldbook::SystemEnv().NowMs());
    return hlc_;
  }

  // A field agent's round: a new customer now and then, visits and edits of its own.
  std::vector<sync::PushChange> Batch() {
    static const std::vector<std::string> kSurnames = {"张", "王", "李", "赵", "刘", "陈", "杨", "黄", "周", "吴"};
    static const std::vector<std::string> kGiven = {"伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰"};
    static const std::vector<std::string> kTiers = {"high", "potential", "general", "low"};
    static const std::vector<std::string> kChannels = {"visit", "phone", "wechat"};
    std::vector<sync::PushChange> out;
    const int new_customers = customers_.empty() ? 5 : (rng_() % 3 == 0 ? 1 : 0);
    for (int i = 0; i < new_customers; ++i) {
      const std::string phone = "[\"138" + std::to_string(10000000 + rng_() % 89999999) + "\"]";
      out.push_back(Create("customers", {{"kind", Value{std::string("person")}},
                                         {"name", Value{Pick(rng_, kSurnames) + Pick(rng_, kGiven)}},
                                         {"phones", Value{phone}},
                                         {"owner_agent", Value{agent_}},
                                         {"team", Value{team_}},
                                         {"value_tier", Value{Pick(rng_, kTiers)}},
                                         {"notes", Value{std::string("首次拜访，家庭保障需求")}}}));
      customers_.push_back(out.back().id);
    }
    const int visits = 1 + static_cast<int>(rng_() % 2);
    for (int i = 0; i < visits; ++i) {
      out.push_back(Create("visits", {{"customer_id", Value{customers_[rng_() % customers_.size()]}},
                                      {"channel", Value{Pick(rng_, kChannels)}},
                                      {"purpose", Value{std::string("service")}},
                                      {"visited_at", Value{fieldbook::SystemEnv().NowMs()}},
                                      {"outcome", Value{std::string("客户有意向了解重疾险")}}}));
    }
    const int edits = 1 + static_cast<int>(rng_() % 2);
    for (int i = 0; i < edits; ++i) {
      sync::PushChange c;
      c.table = "customers";
      c.id = customers_[rng_() % customers_.size()];
      c.op = sync::PushChange::Op::kUpdate;
      c.hlc = Tick();
      c.seen = cursor_;
      c.cells.push_back(sync::PushCell{"value_tier", Value{Pick(rng_, kTiers)}, c.hlc, cursor_, std::nullopt});
      c.cells.push_back(sync::PushCell{"last_contact_at", Value{fieldbook::SystemEnv().NowMs()}, c.hlc, cursor_,
                                       std::nullopt});
      out.push_back(std::move(c));
    }
    return out;
  }

  void Round() {
    if (Clock::now() >= end_) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      return;
    }
    ++stats_.rounds;
    sync::SyncRequest r;
    r.site = site_;
    r.batch_id = site_ + "-batch-" + std::to_string(++batches_);
    r.changes = Batch();
    stats_.changes += static_cast<int64_t>(r.changes.size());
    Send(r);
  }

  void Send(sync::SyncRequest& r) {
    r.request = ++request_no_;
    r.cursor = cursor_;
    r.epoch = epoch_;
    const std::string body = sync::EncodeRequest(r);
    out_ = "POST /v1/sync HTTP/1.1\r\nHost: fieldbook\r\nContent-Type: application/json\r\nAuthorization: Bearer " +
           token_ + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    sent_ = Clock::now();
    net::async_write(socket_, net::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, size_t) {
      if (ec) return self->Fail("write: " + ec.message());
      net::async_read_until(self->socket_, self->in_, "\r\n\r\n",
                            [self](boost::system::error_code ec2, size_t header_bytes) {
                              if (ec2) return self->Fail("read: " + ec2.message());
                              self->OnHeader(header_bytes);
                            });
    });
  }

  void OnHeader(size_t header_bytes) {
    std::string header(net::buffers_begin(in_.data()), net::buffers_begin(in_.data()) + header_bytes);
    in_.consume(header_bytes);
    status_ = header.size() > 12 ? std::atoi(header.c_str() + 9) : 0;
    size_t length = 0;
    for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = header.find("\r\ncontent-length:");
    if (at != std::string::npos) length = std::strtoull(header.c_str() + at + 17, nullptr, 10);
    close_after_ = header.find("\r\nconnection: close") != std::string::npos;
    const size_t have = in_.size();
    if (have >= length) return OnBody(length);
    net::async_read(socket_, in_, net::transfer_exactly(length - have),
                    [self = shared_from_this(), length](boost::system::error_code ec, size_t) {
                      if (ec) return self->Fail("read body: " + ec.message());
                      self->OnBody(length);
                    });
  }

  void OnBody(size_t length) {
    const std::string body(net::buffers_begin(in_.data()), net::buffers_begin(in_.data()) + length);
    in_.consume(length);
    stats_.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent_).count());
    ++stats_.requests;
    if (status_ != 200) {
      stats_.Error("HTTP " + std::to_string(status_) + ": " + body.substr(0, 200));
      return Reconnect();
    }
    auto response = sync::DecodeResponse(body);
    if (!response.ok()) {
      stats_.Error("decode: " + response.status().ToString());
      return Reconnect();
    }
    cursor_ = response->cursor;
    epoch_ = response->epoch;
    stats_.rows_pulled += static_cast<int64_t>(response->rows.size());
    for (const auto& row : response->rows) {
      if (row.table == "customers" && !row.deleted && row.id.rfind(site_, 0) != 0 &&
          std::find(customers_.begin(), customers_.end(), row.id) == customers_.end()) {
        customers_.push_back(row.id);  // the partner device's customer: ours to visit too
      }
    }
    if (close_after_) return Reconnect();
    if (response->more) {
      sync::SyncRequest next;
      next.site = site_;
      return Send(next);
    }
    Schedule();
  }

  void Fail(const std::string& what) {
    stats_.Error(what);
    Reconnect();
  }
  void Reconnect() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    in_.consume(in_.size());
    Connect(std::chrono::milliseconds(o_.interval_ms));
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  tcp::endpoint endpoint_;
  const int index_;
  Stats& stats_;
  const Options& o_;
  const Clock::time_point end_;
  std::mt19937_64 rng_;
  std::string agent_, team_, site_, token_, epoch_, out_;
  net::streambuf in_;
  std::vector<std::string> customers_;
  int64_t cursor_ = 0, request_no_ = 0, batches_ = 0, ids_ = 0;
  sync::Hlc hlc_ = 0;
  Clock::time_point sent_;
  int status_ = 0;
  bool close_after_ = false;
};

// ---------------------------------------------------------------- server processes

struct ServerInstance {
  pid_t pid = -1;
  int port = 0;
  std::string error;
};

ServerInstance StartServer(const Options& o, const std::string& dir, const std::string& database_flag,
                           const std::string& database, int n) {
  ServerInstance s;
  std::vector<std::string> argv = {o.server_bin, database_flag, database, "--listen", "127.0.0.1:0", "--secret",
                                   dir + "/secret"};
  if (o.threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(o.threads)});
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  int out[2];
  if (pipe(out) != 0) {
    s.error = "pipe failed";
    return s;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  const std::string log = dir + "/server-" + std::to_string(n) + ".log";
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const int rc = posix_spawn(&s.pid, argv[0].c_str(), &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (rc != 0) {
    s.error = "cannot start " + o.server_bin;
    close(out[0]);
    return s;
  }
  std::string line;
  char buf[256];
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (line.find('\n') == std::string::npos && Clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    const ssize_t got = read(out[0], buf, sizeof buf);
    if (got <= 0) break;
    line.append(buf, static_cast<size_t>(got));
  }
  close(out[0]);
  const size_t colon = line.rfind(':');
  if (line.rfind("listening on ", 0) != 0 || colon == std::string::npos) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    s.error = "server did not start: " + line + text.str();
    return s;
  }
  s.port = std::atoi(line.c_str() + colon + 1);
  return s;
}

void StopServer(ServerInstance& s) {
  if (s.pid <= 0) return;
  kill(s.pid, SIGTERM);
  int status = 0;
  waitpid(s.pid, &status, 0);
  s.pid = -1;
}

bool PgExec(const std::string& conninfo, const std::string& sql, std::string* error) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  bool ok = PQstatus(c) == CONNECTION_OK;
  if (ok) {
    PGresult* r = PQexec(c, sql.c_str());
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) *error = PQresultErrorMessage(r);
    PQclear(r);
  } else {
    *error = PQerrorMessage(c);
  }
  PQfinish(c);
  return ok;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * static_cast<double>(sorted.size())));
  return sorted[i];
}

// Runs one configuration; returns its report line(s).
std::string RunConfig(const Options& o, const std::string& backend, int instances, bool* met) {
  char templ[] = "/tmp/fieldbook-load-XXXXXX";
  const std::string dir = mkdtemp(templ);
  std::ofstream(dir + "/secret") << kSecret << "\n";
  std::string database_flag = "--db", database = dir + "/server.db", pg_name, error;
  if (backend == "postgres") {
    pg_name = "fieldbook_load_" + std::to_string(getpid()) + "_" + std::to_string(instances);
    if (!PgExec(o.postgres_server + " dbname=postgres", "CREATE DATABASE " + pg_name, &error)) {
      return "postgres: cannot create a database: " + error + "\n";
    }
    database_flag = "--postgres";
    database = o.postgres_server + " dbname=" + pg_name;
  }
  std::vector<ServerInstance> servers;
  std::string report;
  for (int i = 0; i < instances; ++i) {
    servers.push_back(StartServer(o, dir, database_flag, database, i));
    if (!servers.back().error.empty()) {
      report = servers.back().error + "\n";
      break;
    }
  }
  if (report.empty()) {
    net::io_context ioc;
    Stats stats;
    const auto start = Clock::now();
    const auto end = start + std::chrono::seconds(o.duration_s);
    std::vector<std::shared_ptr<Device>> devices;
    for (int i = 0; i < o.devices; ++i) {
      tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<uint16_t>(servers[i % instances].port));
      devices.push_back(std::make_shared<Device>(ioc, ep, i, stats, o, end));
      devices.back()->Start();
    }
    ioc.run();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::sort(stats.latencies_ms.begin(), stats.latencies_ms.end());
    const double p99 = Percentile(stats.latencies_ms, 0.99);
    *met = p99 <= 250 && stats.errors == 0 && stats.requests > 0;
    char line[512];
    std::snprintf(line, sizeof line,
                  "%-8s %d instance%s  %d devices  %5.1f s  %7lld requests  %6.1f req/s  %7.1f changes/s  "
                  "p50 %6.1f ms  p95 %6.1f ms  p99 %6.1f ms  max %7.1f ms  errors %lld  %s\n",
                  backend.c_str(), instances, instances == 1 ? " " : "s", o.devices, seconds,
                  static_cast<long long>(stats.requests), static_cast<double>(stats.requests) / seconds,
                  static_cast<double>(stats.changes) / seconds, Percentile(stats.latencies_ms, 0.50),
                  Percentile(stats.latencies_ms, 0.95), p99, stats.latencies_ms.empty() ? 0 : stats.latencies_ms.back(),
                  static_cast<long long>(stats.errors), *met ? "goal met" : "GOAL NOT MET");
    report = line;
    for (const auto& e : stats.error_samples) report += "    error: " + e + "\n";
  }
  for (auto& s : servers) StopServer(s);
  if (!pg_name.empty()) (void)PgExec(o.postgres_server + " dbname=postgres", "DROP DATABASE " + pg_name, &error);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return report;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

const char kUsage[] =
    "usage: bench_load --server-bin PATH [--backends sqlite,postgres] [--instances 1,2]\n"
    "                  [--postgres-server CONNINFO] [--devices N] [--duration S] [--interval-ms MS]\n"
    "                  [--threads N] [--write FILE]\n"
    "--postgres-server is a libpq connection string without dbname, of a role that may create\n"
    "databases (e.g. \"host=127.0.0.1 port=5432 user=postgres\"); each run gets a fresh database.\n";

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::cerr << a << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return args[++i];
    };
    if (a == "--server-bin") o.server_bin = value();
    else if (a == "--backends") o.backends = Split(value());
    else if (a == "--instances") {
      o.instances.clear();
      for (const auto& n : Split(value())) o.instances.push_back(std::max(1, std::atoi(n.c_str())));
    } else if (a == "--postgres-server") o.postgres_server = value();
    else if (a == "--devices") o.devices = std::max(1, std::atoi(value().c_str()));
    else if (a == "--duration") o.duration_s = std::max(1, std::atoi(value().c_str()));
    else if (a == "--interval-ms") o.interval_ms = std::max(10, std::atoi(value().c_str()));
    else if (a == "--threads") o.threads = std::max(0, std::atoi(value().c_str()));
    else if (a == "--write") o.write = value();
    else {
      std::cerr << "unknown argument " << a << "\n" << kUsage;
      return 2;
    }
  }
  if (o.server_bin.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  for (const auto& b : o.backends) {
    if (b == "postgres" && o.postgres_server.empty()) {
      std::cerr << "--backends postgres needs --postgres-server\n";
      return 2;
    }
    if (b != "postgres" && b != "sqlite") {
      std::cerr << "unknown backend " << b << "\n";
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  std::ostringstream report;
  report << "bench_load: " << o.devices << " devices (pairs per agent), a sync every " << o.interval_ms
         << " ms +-20% each, " << o.duration_s << " s per configuration; " << std::thread::hardware_concurrency()
         << " cores\ngoal: p99 <= 250 ms and 0 errors\n";
  std::cout << report.str() << std::flush;
  bool all_met = true;
  for (const auto& backend : o.backends) {
    for (int n : o.instances) {
      bool met = false;
      const std::string line = RunConfig(o, backend, n, &met);
      all_met &= met;
      std::cout << line << std::flush;
      report << line;
    }
  }
  report << (all_met ? "all configurations met the goal\n" : "not every configuration met the goal\n");
  std::cout << (all_met ? "all configurations met the goal\n" : "not every configuration met the goal\n");
  if (!o.write.empty()) std::ofstream(o.write) << report.str();
  return 0;
}
