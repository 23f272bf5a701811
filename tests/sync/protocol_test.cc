// Protocol encoding: column blocks (docs/protocol.md, "Column blocks") round trip exactly,
// hostile blocks are refused whole with the offending field named, and gzip bodies inflate
// the same whichever library compressed them.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "fieldbook/core/json.h"
#include "fieldbook/sync/protocol.h"
#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

namespace {

std::string ValueJson(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return "d" + std::to_string(*d);
  if (const auto* s = std::get_if<std::string>(&v)) return "\"" + *s + "\"";
  return "null";
}

sync::PushChange Create(const std::string& table, const std::string& id, sync::Hlc hlc, int64_t seen,
                        std::vector<std::pair<std::string, Value>> cells) {
  sync::PushChange c;
  c.table = table;
  c.id = id;
  c.op = sync::PushChange::Op::kCreate;
  c.hlc = hlc;
  c.seen = seen;
  for (auto& [column, value] : cells) {
    sync::PushCell& cell = c.cells.emplace_back();
    cell.column = column;
    cell.value = std::move(value);
    cell.hlc = hlc;
    cell.seen = seen;
  }
  return c;
}

// A change as text, its cells by column (a block lists them in its column order).
std::string Describe(const sync::PushChange& c) {
  std::map<std::string, std::string> cells;
  for (const auto& cell : c.cells) {
    cells[cell.column] = ValueJson(cell.value) + "@" + std::to_string(cell.hlc) + "/" + std::to_string(cell.seen) +
                         (cell.base ? " base " + ValueJson(*cell.base) : "");
  }
  std::string out = c.table + " " + c.id + " op" + std::to_string(static_cast<int>(c.op)) + " h" +
                    std::to_string(c.hlc) + " n" + std::to_string(c.seen);
  for (const auto& [k, v] : cells) out += " " + k + "=" + v;
  return out;
}

std::string Describe(const sync::WireRow& r) {
  std::map<std::string, std::string> cells;
  for (const auto& [column, value] : r.cells) cells[column] = ValueJson(value);
  std::string out = r.table + " " + r.id + (r.deleted ? " deleted" : "") + " h" + std::to_string(r.hlc) + " s" + r.site;
  for (const auto& [k, v] : cells) out += " " + k + "=" + v;
  for (const auto& [k, v] : r.versions) out += " x." + k + "=" + std::to_string(v.hlc) + "/" + v.site;
  return out;
}

size_t CountBlocks(const rapidjson::Value& array) {
  size_t n = 0;
  for (const auto& e : array.GetArray()) n += e.HasMember("cols") ? 1 : 0;
  return n;
}

// A request body with one element of `changes` given as text.
std::string RequestWith(const std::string& change) {
  return R"({"protocol":1,"site":"s1","batch":"b1","changes":[)" + change + "]}";
}

}  // namespace

TEST_CASE("protocol: runs of plain creations travel as column blocks and decode to the same changes",
          "[sync][protocol]") {
  sync::SyncRequest q;
  q.site = "site-a";
  q.batch_id = "batch-1";
  q.blocks = true;
  // Five creations of one table: varying column sets and order, every value kind.
  q.changes.push_back(Create("customers", "c1", 1000, 7, {{"name", Value{std::string("张伟")}}, {"annual_income", Value{int64_t{120000}}}}));
  q.changes.push_back(Create("customers", "c2", 1003, 7, {{"name", Value{std::string("Li \"Na\"\n")}}}));
  q.changes.push_back(Create("customers", "c3", 999, 9, {{"annual_income", Value{int64_t{-5}}}, {"name", Value{std::string("")}}}));
  q.changes.push_back(Create("customers", "c4", 2000, 0, {{"score", Value{2.5}}, {"name", Value{std::string("王芳")}}}));
  q.changes.push_back(Create("customers", "c5", 2001, 0, {{"name", Value{std::string("刘洋 \\ \x01 \t")}}}));
  // An update, two creations (too few for a block), a creation with its own cell versions.
  sync::PushChange update = Create("customers", "c1", 3000, 8, {{"notes", Value{std::string("new")}}});
  update.op = sync::PushChange::Op::kUpdate;
  update.cells[0].base = Value{std::string("old")};
  q.changes.push_back(update);
  q.changes.push_back(Create("visits", "v1", 3001, 8, {{"customer_id", Value{std::string("c1")}}}));
  q.changes.push_back(Create("visits", "v2", 3002, 8, {{"customer_id", Value{std::string("c2")}}}));
  sync::PushChange mixed = Create("tasks", "t0", 3003, 8, {{"title", Value{std::string("a")}}, {"due", Value{int64_t{5}}}});
  mixed.cells[1].hlc = 2990;
  q.changes.push_back(mixed);
  // 2,600 creations of one table: two blocks.
  for (int i = 0; i < 2600; ++i) {
    q.changes.push_back(Create("tasks", "t" + std::to_string(i + 1), 4000 + (i % 3 == 0 ? -i : i), i / 100,
                               {{"title", Value{"task " + std::to_string(i)}}}));
  }
  const std::string body = sync::EncodeRequest(q);
  auto doc = ParseJson(body, "request");
  REQUIRE(doc.ok());
  CHECK(ToJson(*doc) == body);  // byte for byte what rapidjson's own writer gives
  const auto& changes = (*doc)["changes"];
  CHECK(CountBlocks(changes) == 3);
  CHECK(changes.Size() == 3 + 4);
  CHECK(changes[0]["r"].Size() == 5);
  CHECK(changes[6]["r"].Size() == 100);
  CHECK((*doc)["blocks"].GetBool());

  auto back = sync::DecodeRequest(body);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(back->blocks);
  REQUIRE(back->changes.size() == q.changes.size());
  for (size_t i = 0; i < q.changes.size(); ++i) {
    INFO("change " << i);
    CHECK(Describe(back->changes[i]) == Describe(q.changes[i]));
  }
}

TEST_CASE("protocol: a response in blocks carries the same rows, tombstones and cell versions", "[sync][protocol]") {
  sync::SyncResponse s;
  s.epoch = "e1";
  s.cursor = 9;
  s.raw_rows = {
      R"({"t":"customers","r":"c1","h":100,"s":"site-a","c":{"name":"张伟","annual_income":5}})",
      R"({"t":"customers","r":"c2","h":90,"s":"site-b","c":{"name":"B"},"x":{"notes":[120,"server"],"phone":[80,"site-c"]}})",
      R"({"t":"customers","r":"c3","h":101,"s":"site-a","c":{"score":1.5}})",
      R"({"t":"customers","r":"c4","h":102,"s":"site-a","c":{"name":"D","score":-2}})",
      R"({"t":"customers","r":"gone","h":103,"s":"site-a","d":1})",
      R"({"t":"visits","r":"v1","h":104,"s":"site-a","c":{"customer_id":"c1"}})",
  };
  for (int i = 0; i < 5; ++i) {
    sync::WireRow row;
    row.table = "tasks";
    row.id = "t" + std::to_string(i);
    row.hlc = 200 - i;
    row.site = "site-a";
    row.cells = {{"title", Value{"task " + std::to_string(i)}}};
    if (i == 3) row.versions["title"] = sync::CellVersion{300, "site-z"};
    s.rows.push_back(row);
  }
  auto plain = sync::DecodeResponse(sync::EncodeResponse(s));
  REQUIRE(plain.ok());
  s.blocks = true;
  const std::string body = sync::EncodeResponse(s);
  auto doc = ParseJson(body, "response");
  REQUIRE(doc.ok());
  CHECK(ToJson(*doc) == body);
  CHECK(CountBlocks((*doc)["rows"]) == 2);  // c1..c4 and t0..t4; the tombstone and the lone visit stay single
  CHECK((*doc)["rows"].Size() == 4);
  CHECK((*doc)["rows"][0]["s"].IsArray());   // two sites
  CHECK((*doc)["rows"][3]["s"].IsString());  // one site
  auto blocked = sync::DecodeResponse(body);
  INFO(blocked.status().ToString());
  REQUIRE(blocked.ok());
  REQUIRE(blocked->rows.size() == plain->rows.size());
  REQUIRE(plain->rows.size() == 11);
  for (size_t i = 0; i < plain->rows.size(); ++i) {
    INFO("row " << i);
    CHECK(Describe(blocked->rows[i]) == Describe(plain->rows[i]));
  }
  CHECK(plain->rows[1].VersionOf("notes").site == "server");
  CHECK(blocked->rows[1].VersionOf("phone").hlc == 80);
}

TEST_CASE("protocol: stored rows go into blocks as they are, runs of one table at a time", "[sync][protocol]") {
  // The server's pull writes blocks straight from the stored rows' JSON. Runs of several
  // tables one after another, and stored rows the decoder would have to tidy (versions out
  // of column order, a tombstone given as "d":true) or that carry an explicit null or
  // "d":0, all decode to the same rows as the same response row by row.
  sync::SyncResponse s;
  s.epoch = "e1";
  for (int round = 0; round < 2; ++round) {
    for (const char* table : {"customers", "visits", "customers"}) {
      for (int i = 0; i < 8; ++i) {
        const std::string id = std::string(table) + "-" + std::to_string(round) + "-" + std::to_string(i);
        std::string row = R"({"t":")" + std::string(table) + R"(","r":")" + id + R"(","h":)" + std::to_string(100 + i) +
                          R"(,"s":"site-)" + std::to_string(i % 2) + R"(","c":{"name":"名字 \"引号\")" + std::to_string(i) +
                          R"(","score":)" + std::to_string(i) + ".5";
        if (i == 1) row += R"(,"notes":null)";
        row += "}";
        if (i == 6) row += R"(,"x":{"notes":[91,"site-8"],"name":[90,"site-9"]})";  // not in column order
        if (i == 2) row += R"(,"x":{"name":[90,"site-9"],"notes":[91,"site-8"]})";
        if (i == 3) row += R"(,"x":{"name":[92,"site-7"]},"d":0)";
        row += "}";
        s.raw_rows.push_back(row);
      }
    }
  }
  s.raw_rows.push_back(R"({"t":"customers","r":"gone","h":6,"s":"a","d":true})");
  auto plain = sync::DecodeResponse(sync::EncodeResponse(s));
  INFO(plain.status().ToString());
  REQUIRE(plain.ok());
  s.blocks = true;
  const std::string body = sync::EncodeResponse(s);
  auto doc = ParseJson(body, "response");
  REQUIRE(doc.ok());
  CHECK(ToJson(*doc) == body);
  CHECK(CountBlocks((*doc)["rows"]) == 6);  // rows 0-5 of each run; row 6 stays as stored
  auto blocked = sync::DecodeResponse(body);
  INFO(blocked.status().ToString());
  REQUIRE(blocked.ok());
  REQUIRE(blocked->rows.size() == plain->rows.size());
  REQUIRE(plain->rows.size() == s.raw_rows.size());
  // A block has no explicit null: a null cell is an absent one.
  auto live = [](sync::WireRow r) {
    r.cells.erase(std::remove_if(r.cells.begin(), r.cells.end(), [](const auto& c) { return IsNull(c.second); }),
                  r.cells.end());
    return Describe(r);
  };
  for (size_t i = 0; i < plain->rows.size(); ++i) {
    INFO("row " << i);
    CHECK(live(blocked->rows[i]) == live(plain->rows[i]));
  }
}

TEST_CASE("protocol: a hostile block is refused whole, naming what is wrong", "[sync][protocol]") {
  const std::string good_head = R"({"t":"customers","op":"create","r":["a","b"],"h":[5,1],"n":[0,0],)";
  struct Case {
    std::string change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {good_head + R"("cols":["name","name"],"v":[["x","y"],["x","y"]]})", "changes[0].cols[1]"},
      {good_head + R"("cols":["name"],"v":[["x","y"],["x","y"]]})", "changes[0].v"},
      {good_head + R"("cols":["name"],"v":[["x"]]})", "changes[0].v[0]"},
      {good_head + R"("cols":[],"v":[]})", "changes[0].cols"},
      {good_head + R"("cols":[""],"v":[["x","y"]]})", "changes[0].cols[0]"},
      {good_head + R"("cols":["name"],"v":[["x",{"no":1}]]})", "changes[0].v[0][1]"},
      {good_head + R"("cols":["name"],"v":[["x",null]]})", "changes[0].v"},
      {R"({"t":"customers","op":"update","r":["a"],"h":[5],"n":[0],"cols":["name"],"v":[["x"]]})", "changes[0].op"},
      {R"({"t":"customers","op":"create","r":["a","b"],"h":[5],"n":[0,0],"cols":["name"],"v":[["x","y"]]})", "changes[0].h"},
      {R"({"t":"customers","op":"create","r":["a","b"],"h":[5,-5],"n":[0,0],"cols":["name"],"v":[["x","y"]]})", "changes[0].h[1]"},
      {R"({"t":"customers","op":"create","r":["a","b"],"h":[9223372036854775807,1],"n":[0,0],"cols":["name"],"v":[["x","y"]]})",
       "changes[0].h[1]"},
      {R"({"t":"customers","op":"create","r":["a","b"],"h":[5,1.5],"n":[0,0],"cols":["name"],"v":[["x","y"]]})", "changes[0].h[1]"},
      {R"({"t":"customers","op":"create","r":["a","b"],"h":[5,1],"cols":["name"],"v":[["x","y"]]})", "changes[0].n"},
      {R"({"t":"customers","op":"create","r":["a",""],"h":[5,1],"n":[0,0],"cols":["name"],"v":[["x","y"]]})", "changes[0].r[1]"},
      {R"({"t":"customers","op":"create","r":[],"h":[],"n":[],"cols":["name"],"v":[[]]})", "changes[0].r"},
      {R"({"op":"create","r":["a"],"h":[5],"n":[0],"cols":["name"],"v":[["x"]]})", "changes[0].t"},
      {R"({"t":"customers","op":"create","r":["a"],"h":[5],"n":[0],"cols":"name","v":[["x"]]})", "changes[0].cols"},
  };
  for (const auto& c : cases) {
    INFO(c.change);
    auto decoded = sync::DecodeRequest(RequestWith(c.change));
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.status().code() == ErrorCode::kMalformedRequest);
    CHECK(decoded.status().field() == c.field);
  }
  // A block after a good change: the error numbers changes as the device wrote them.
  auto later = sync::DecodeRequest(RequestWith(
      R"({"t":"customers","r":"z","op":"delete","h":4},)" + good_head + R"("cols":["name"],"v":[["x",7]]})"));
  REQUIRE(later.ok());
  REQUIRE(later->changes.size() == 3);
  CHECK(later->changes[2].cells[0].column == "name");
  CHECK(ValueJson(later->changes[2].cells[0].value) == "7");

  // Too wide a block; more cells than a request may carry (counted before any is built).
  std::string wide = R"({"t":"customers","op":"create","r":["a"],"h":[5],"n":[0],"cols":[)";
  for (int i = 0; i < 1025; ++i) wide += (i ? ",\"c" : "\"c") + std::to_string(i) + "\"";
  wide += R"(],"v":[)";
  for (int i = 0; i < 1025; ++i) wide += i ? ",[1]" : "[1]";
  auto too_wide = sync::DecodeRequest(RequestWith(wide + "]}"));
  REQUIRE_FALSE(too_wide.ok());
  CHECK(too_wide.status().field() == "changes[0].cols");
  std::string many = R"({"t":"customers","op":"create","r":[)";
  const int rows = 2001;
  for (int i = 0; i < rows; ++i) many += (i ? ",\"r" : "\"r") + std::to_string(i) + "\"";
  many += R"(],"h":[1)";
  for (int i = 1; i < rows; ++i) many += ",1";
  many += R"(],"n":[0)";
  for (int i = 1; i < rows; ++i) many += ",0";
  many += R"(],"cols":[)";
  for (int i = 0; i < 1000; ++i) many += (i ? ",\"c" : "\"c") + std::to_string(i) + "\"";
  many += R"(],"v":[)";
  std::string column = "[1";
  for (int i = 1; i < rows; ++i) column += ",1";
  column += "]";
  for (int i = 0; i < 1000; ++i) many += (i ? "," : "") + column;  // 2,001,000 cells
  auto too_many = sync::DecodeRequest(RequestWith(many + "]}"));
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.status().code() == ErrorCode::kPayloadTooLarge);

  // Responses: a block that does not hold together is a malformed response.
  const std::vector<std::string> bad_rows = {
      R"({"t":"c","r":["a","b"],"h":[1,1],"s":["x"],"cols":["n"],"v":[["p","q"]]})",
      R"({"t":"c","r":["a","b"],"h":[1,1],"cols":["n"],"v":[["p","q"]]})",
      R"({"t":"c","r":["a","b"],"h":[1,1],"s":"x","cols":["n"],"v":[["p","q"]],"x":{"2":{"n":[1,"y"]}}})",
      R"({"t":"c","r":["a","b"],"h":[1,1],"s":"x","cols":["n"],"v":[["p","q"]],"x":{"01x":{"n":[1,"y"]}}})",
      R"({"t":"c","r":["a","b"],"h":[1,1],"s":"x","cols":["n"],"v":[["p","q"]],"x":{"1":{"n":[1]}}})",
      R"({"t":"c","r":["a","b"],"h":[1,1],"s":[1,2],"cols":["n"],"v":[["p","q"]]})",
  };
  for (const auto& row : bad_rows) {
    INFO(row);
    auto decoded = sync::DecodeResponse(R"({"protocol":1,"epoch":"e","from":0,"cursor":1,"more":false,"rows":[)" +
                                        row + "]}");
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.status().code() == ErrorCode::kServerError);
  }
}

namespace {

// Forwards to the server; records request and response bodies (inflated) and can rewrite
// the next request body.
class RecordingTransport : public sync::Transport {
 public:
  explicit RecordingTransport(sync::Transport& next) : next_(next) {}
  Result<sync::HttpResponse> Send(const sync::HttpRequest& request) override {
    sync::HttpRequest copy = request;
    if (sync::LooksGzipped(copy.body)) {
      auto inflated = sync::Gunzip(copy.body, 64 << 20);
      if (!inflated.ok()) return inflated.status();
      copy.body = std::move(*inflated);
      std::vector<std::pair<std::string, std::string>> headers;
      for (auto& h : copy.headers) {
        if (h.first != "Content-Encoding") headers.push_back(h);
      }
      copy.headers = headers;
    }
    if (rewrite) {
      copy.body = rewrite(copy.body);
      rewrite = nullptr;
    }
    requests.push_back(copy.body);
    auto response = next_.Send(copy);
    if (response.ok()) {
      auto inflated = sync::LooksGzipped(response->body) ? sync::Gunzip(response->body, 64 << 20)
                                                         : Result<std::string>(response->body);
      responses.push_back(inflated.ok() ? *inflated : "");
    }
    return response;
  }

  std::function<std::string(const std::string&)> rewrite;
  std::vector<std::string> requests;
  std::vector<std::string> responses;

 private:
  sync::Transport& next_;
};

}  // namespace

TEST_CASE("protocol: a bulk push and pull travel in blocks; a bad block applies nothing", "[sync][protocol]") {
  TempDir dir;
  TestServer server(dir.File("server.db"));
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  for (int i = 0; i < 12; ++i) {
    REQUIRE(a.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"(","phones":["1380013800)" +
                                             std::to_string(i % 10) + R"("],"notes":"第)" + std::to_string(i) + R"(位"})")
                .ok());
  }
  RecordingTransport to_server(*server.transport);
  // First attempt: a column of the block renamed to one the table does not have.
  to_server.rewrite = [](const std::string& body) {
    std::string out = body;
    const size_t at = out.find("\"cols\":[\"");
    REQUIRE(at != std::string::npos);
    out.insert(at + 9, "no_such_");
    return out;
  };
  auto refused = a.Sync(to_server, token);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("no_such_") != std::string::npos);
  auto empty = b.Sync(*server.transport, token);
  REQUIRE(empty.ok());
  CHECK(empty->pulled == 0);

  auto pushed = a.Sync(to_server, token);
  INFO(pushed.status().ToString());
  REQUIRE(pushed.ok());
  CHECK(pushed->pushed >= 12);
  auto request = ParseJson(to_server.requests.back(), "request");
  REQUIRE(request.ok());
  CHECK(CountBlocks((*request)["changes"]) >= 1);

  RecordingTransport from_server(*server.transport);
  auto pulled = b.Sync(from_server, token);
  REQUIRE(pulled.ok());
  CHECK(pulled->pulled >= 12);
  bool any_block = false;
  for (const auto& body : from_server.responses) {
    auto response = ParseJson(body, "response");
    REQUIRE(response.ok());
    if (response->HasMember("rows")) any_block |= CountBlocks((*response)["rows"]) > 0;
  }
  CHECK(any_block);
  CHECK(a.Export() == b.Export());
}

TEST_CASE("protocol: gzip bodies inflate exactly; lying trailers, bombs and truncation are refused",
          "[sync][protocol]") {
  std::mt19937 rng(7);
  std::string text;
  for (int i = 0; i < 200000; ++i) text += static_cast<char>(i % 7 == 0 ? 'a' + rng() % 26 : ' ' + i % 50);
  for (const std::string& data : {std::string(), std::string("x"), text}) {
    for (int level : {1, 6, 9}) {
      auto back = sync::Gunzip(sync::Gzip(data, level), 1 << 20);
      REQUIRE(back.ok());
      CHECK(*back == data);
    }
  }
  const std::string gz = sync::Gzip(text);
  // The trailer's size says less, or more, than the data inflates to.
  for (uint32_t lie : {10u, static_cast<uint32_t>(text.size() + 1), 0xffffffffu}) {
    std::string bad = gz;
    for (int i = 0; i < 4; ++i) bad[bad.size() - 4 + i] = static_cast<char>((lie >> (8 * i)) & 0xff);
    auto r = sync::Gunzip(bad, 1 << 20);
    CHECK_FALSE(r.ok());
  }
  auto bomb = sync::Gunzip(sync::Gzip(std::string(8 << 20, '\0')), 1 << 20);
  REQUIRE_FALSE(bomb.ok());
  CHECK(bomb.status().code() == ErrorCode::kPayloadTooLarge);
  auto truncated = sync::Gunzip(gz.substr(0, gz.size() / 2), 1 << 20);
  CHECK_FALSE(truncated.ok());
  auto trailing = sync::Gunzip(gz + "junk", 1 << 20);  // what follows the member is ignored, as before
  REQUIRE(trailing.ok());
  CHECK(*trailing == text);
}
