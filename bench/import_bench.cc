// bench_import: how fast customers go from a JSON Lines file into an agent profile, measured
// next to a raw SQLite insert of the same rows in the same run, so the ratio says what
// validation, indexes and full-text search cost on this machine.
//
//   bench_import [--data FILE] [--repeat N] [--write]
//
// The data file is imported as is, then repeated ten times with a distinct id per copy
// (100k rows for the 10k sample). Each measurement starts from a fresh profile and the
// median of N runs is reported. The raw baseline reads and parses the same lines and
// inserts every key as a column of a plain table (no STRICT, no index, no full-text
// search), one prepared statement in one transaction, with the store's durability settings
// (WAL, synchronous=FULL). --write also saves the report to bench/results/import.txt.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sstream>
#include <string>
#include <vector>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int kCopies = 10;
constexpr double kGoalSeconds = 3.0;  // 100k customers imported in under 3 s

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "bench_import: " << message << "\n";
  std::exit(1);
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A scratch directory removed when the bench ends.
struct ScratchDir {
  ScratchDir() {
    std::random_device rd;
    for (;;) {
      path = fs::temp_directory_path() / ("fieldbook-bench-" + std::to_string(rd()));
      if (fs::create_directory(path)) break;
    }
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string File(const std::string& name) const { return (path / name).string(); }
  fs::path path;
};

void RemoveDb(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

// The sample repeated `copies` times; the id (or external_ref) of copy k gets "-k" appended
// so every line is a distinct customer.
void WriteRepeated(const std::vector<std::string>& lines, int copies, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (int k = 0; k < copies; ++k) {
    for (const auto& line : lines) {
      rapidjson::Document doc;
      doc.Parse(line.data(), line.size());
      if (doc.HasParseError() || !doc.IsObject()) Die("the data file holds a line that is not a JSON object");
      for (const char* key : {"id", "external_ref"}) {
        if (doc.HasMember(key) && doc[key].IsString()) {
          const std::string v = std::string(doc[key].GetString()) + "-" + std::to_string(k);
          doc[key].SetString(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), doc.GetAllocator());
          break;
        }
      }
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      doc.Accept(w);
      out.write(buf.GetString(), static_cast<std::streamsize>(buf.GetSize()));
      out.put('\n');
    }
  }
  if (!out) Die("cannot write " + path);
}

// Seconds for Archive::ImportJsonl of `file` into a fresh profile.
double TimeFieldbookImport(const std::string& file, const std::string& db, int64_t expect_rows) {
  RemoveDb(db);
  auto store = fieldbook::Store::Open(db);
  if (!store.ok()) Die(store.status().ToString());
  if (auto s = fieldbook::Archive::Init(**store, "bench-agent", "bench-team"); !s.ok()) Die(s.ToString());
  fieldbook::Archive archive(**store);
  const auto start = Clock::now();
  std::ifstream in(file, std::ios::binary);
  auto report = archive.ImportJsonl(in, static_cast<int64_t>(fs::file_size(file)), nullptr);
  const double seconds = Seconds(start);
  if (!report.ok()) Die("import failed: " + report.status().ToString());
  if (report->inserted != expect_rows) {
    Die("imported " + std::to_string(report->inserted) + " rows, expected " + std::to_string(expect_rows));
  }
  store->reset();
  RemoveDb(db);
  return seconds;
}

void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) Die(std::string(what) + ": " + sqlite3_errmsg(db));
}

void Exec(sqlite3* db, const std::string& sql) { Check(db, sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), sql.c_str()); }

// Every key of the file, in first-seen order: the columns of the raw table.
std::vector<std::string> KeysOf(const std::string& file) {
  std::vector<std::string> keys;
  std::map<std::string, int> seen;
  for (const auto& line : ReadLines(file)) {
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) Die("the data file holds a line that is not a JSON object");
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      const std::string key(it->name.GetString(), it->name.GetStringLength());
      if (seen.emplace(key, static_cast<int>(keys.size()) + 1).second) keys.push_back(key);
    }
  }
  return keys;
}

// Seconds to read, parse and insert the same lines into a plain SQLite table.
double TimeRawInsert(const std::string& file, const std::string& path, const std::vector<std::string>& keys,
                     int64_t expect_rows) {
  RemoveDb(path);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) Die("cannot open " + path);
  Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  std::string create = "CREATE TABLE raw_customers (", insert = "INSERT INTO raw_customers VALUES (";
  std::map<std::string, int, std::less<>> index;
  for (size_t i = 0; i < keys.size(); ++i) {
    create += (i ? ", \"" : "\"") + keys[i] + "\"";
    insert += (i ? ", ?" : "?") + std::to_string(i + 1);
    index.emplace(keys[i], static_cast<int>(i) + 1);
  }
  Exec(db, create + ")");
  insert += ")";

  const auto start = Clock::now();
  sqlite3_stmt* st = nullptr;
  Check(db, sqlite3_prepare_v2(db, insert.c_str(), -1, &st, nullptr), "prepare");
  Exec(db, "BEGIN IMMEDIATE");
  std::ifstream in(file, std::ios::binary);
  std::string line;
  int64_t rows = 0;
  rapidjson::Document doc;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) Die("bad line in " + file);
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      const int col = index.find(std::string_view(it->name.GetString(), it->name.GetStringLength()))->second;
      const rapidjson::Value& v = it->value;
      if (v.IsString()) {
        sqlite3_bind_text(st, col, v.GetString(), static_cast<int>(v.GetStringLength()), SQLITE_STATIC);
      } else if (v.IsInt64()) {
        sqlite3_bind_int64(st, col, v.GetInt64());
      } else if (v.IsNumber()) {
        sqlite3_bind_double(st, col, v.GetDouble());
      } else if (v.IsBool()) {
        sqlite3_bind_int(st, col, v.GetBool() ? 1 : 0);
      } else if (v.IsNull()) {
        sqlite3_bind_null(st, col);
      } else {
        rapidjson::StringBuffer buf;
        rapidjson::Writer<rapidjson::StringBuffer> w(buf);
        v.Accept(w);
        sqlite3_bind_text(st, col, buf.GetString(), static_cast<int>(buf.GetSize()), SQLITE_TRANSIENT);
      }
    }
    Check(db, sqlite3_step(st), "insert");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    ++rows;
  }
  Exec(db, "COMMIT");
  sqlite3_finalize(st);
  const double seconds = Seconds(start);
  sqlite3_close(db);
  RemoveDb(path);
  if (rows != expect_rows) Die("raw insert wrote " + std::to_string(rows) + " rows");
  return seconds;
}

struct Measurement {
  int64_t rows = 0;
  double fieldbook_s = 0;
  double raw_s = 0;
};

std::string Report(const std::string& data, int repeat, const std::vector<Measurement>& results) {
  std::ostringstream out;
  char line[200];
  out << "Fieldbook customer import (median of " << repeat << " runs, each into a fresh profile)\n";
  out << "data: " << fs::path(data).filename().string() << ", SQLite " << sqlite3_libversion() << "\n\n";
  std::snprintf(line, sizeof line, "%8s  %10s %12s  %10s %12s  %6s\n", "rows", "import s", "rows/s",
                "raw s", "raw rows/s", "ratio");
  out << line;
  for (const auto& m : results) {
    std::snprintf(line, sizeof line, "%8lld  %10.3f %12.0f  %10.3f %12.0f  %5.1fx\n", static_cast<long long>(m.rows),
                  m.fieldbook_s, static_cast<double>(m.rows) / m.fieldbook_s, m.raw_s,
                  static_cast<double>(m.rows) / m.raw_s, m.fieldbook_s / m.raw_s);
    out << line;
  }
  const Measurement& big = results.back();
  std::snprintf(line, sizeof line, "\ngoal: 100000 customers in under %.0f s: %s (%.3f s for %lld)\n", kGoalSeconds,
                big.rows >= 100000 && big.fieldbook_s < kGoalSeconds ? "met" : "not met", big.fieldbook_s,
                static_cast<long long>(big.rows));
  out << line;
  return out.str();
}

void WriteResults(const std::string& text) {
  const fs::path dir = fs::path(FIELDBOOK_SOURCE_DIR) / "bench" / "results";
  fs::create_directories(dir);
  const fs::path tmp = dir / "import.txt.tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    out << "# bench_import --write, " << date << "\n" << text;
    if (!out) Die("cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / "import.txt");
  std::cout << "wrote " << (dir / "import.txt").string() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  fieldbook::ConfigureSqliteForProcess();
  std::string data = FIELDBOOK_BENCH_DATA;
  if (const char* env = std::getenv("FIELDBOOK_BENCH_DATA"); env && *env) data = env;
  int repeat = 3;
  bool write = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--write") {
      write = true;
    } else {
      std::cerr << "usage: bench_import [--data FILE] [--repeat N] [--write]\n";
      return 2;
    }
  }
  if (data.empty()) Die("no data file: pass --data FILE (customers, one JSON object a line)");

  ScratchDir scratch;
  const std::vector<std::string> lines = ReadLines(data);
  if (lines.empty()) Die(data + " holds no customers");
  const std::string big = scratch.File("customers-x" + std::to_string(kCopies) + ".jsonl");
  WriteRepeated(lines, kCopies, big);
  const std::vector<std::string> keys = KeysOf(data);

  std::vector<Measurement> results;
  for (const auto& [file, rows] : {std::pair<std::string, int64_t>{data, static_cast<int64_t>(lines.size())},
                                   {big, static_cast<int64_t>(lines.size()) * kCopies}}) {
    std::vector<double> fb, raw;
    for (int r = 0; r < repeat; ++r) {
      fb.push_back(TimeFieldbookImport(file, scratch.File("profile.db"), rows));
      raw.push_back(TimeRawInsert(file, scratch.File("raw.db"), keys, rows));
    }
    results.push_back({rows, Median(fb), Median(raw)});
  }
  const std::string text = Report(data, repeat, results);
  std::cout << text;
  if (write) WriteResults(text);
  return 0;
}
