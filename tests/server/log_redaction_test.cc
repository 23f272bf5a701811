// The server's logs after real syncs of customers with known names, phone numbers and
// resident ID numbers, rejected changes quoting them, and admin calls: none of them
// appears, on either backend.
#include <catch2/catch.hpp>

#include "fieldbook/server/log_redaction.h"
#include "fieldbook/sync/cpprest_transport.h"
#include "fieldbook/sync/protocol.h"
#include "support/postgres_cluster.h"
#include "support/server_process.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

TEST_CASE("RedactPersonalData masks numbers, non-ASCII text and e-mail addresses", "[server][log]") {
  using server::RedactPersonalData;
  CHECK(RedactPersonalData("changes[3].c.phones") == "changes[3].c.phones");
  CHECK(RedactPersonalData("c.13800138000") == "c.***");
  CHECK(RedactPersonalData("id 11010119900307451X ok") == "id *** ok");
  CHECK(RedactPersonalData("name 欧阳娜娜, city 重庆") == "name ***, city ***");
  CHECK(RedactPersonalData("mail zhang.san@example.com now") == "mail *** now");
  CHECK(RedactPersonalData("port 8080, 12345 rows") == "port 8080, 12345 rows");
}

TEST_CASE("no name, phone or ID number of a synced customer reaches the server's log", "[server][log]") {
  TempDir dir;
  FB_SERVER_ON_EACH_BACKEND(server, ServerProcessOptions{});
  sync::CpprestTransport transport(server.base_url());
  const std::string token = server.Token("agent-1", "team-1");
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  struct Person {
    const char* name;
    const char* phone;
    const char* id_number;
  };
  const Person people[] = {{"欧阳娜娜", "13612345678", "110101199003074514"},
                           {"Zhang Wei", "15987654321", "11010519491231002X"},
                           {"单晓东", "18800001111", "310104197708163215"}};
  std::string first_id;
  for (const Person& p : people) {
    auto id = a.archive->Add("customers", std::string(R"({"name":")") + p.name + R"(","phones":[")" + p.phone +
                                              R"("],"id_type":"resident_id","id_number":")" + p.id_number +
                                              R"(","email":"vip@example.com","notes":"住在)" + p.name + R"(家隔壁"})");
    INFO(id.status().ToString());
    REQUIRE(id.ok());
    if (first_id.empty()) first_id = *id;
  }
  REQUIRE(a.Sync(transport, token).ok());
  REQUIRE(b.Sync(transport, token).ok());
  REQUIRE(b.archive->Set("customers", first_id, R"({"phones":["13612345679"],"notes":"欧阳娜娜换了号码"})").ok());
  REQUIRE(b.Sync(transport, token).ok());
  REQUIRE(a.Sync(transport, token).ok());

  // Rejected changes whose column names and values are personal data.
  for (const std::string column : {"13612345678", "c110101199003074514", "欧阳娜娜"}) {
    sync::SyncRequest bad;
    bad.site = "site-log-test";
    bad.batch_id = "batch-" + column;
    sync::PushChange change;
    change.table = "customers";
    change.id = first_id;
    change.hlc = sync::MakeHlc(SystemEnv().NowMs());
    change.cells.push_back(sync::PushCell{column, Value(std::string("欧阳娜娜 110101199003074514")), change.hlc, 0, {}});
    bad.changes.push_back(change);
    sync::HttpRequest r;
    r.path = "/v1/sync";
    r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}};
    r.body = sync::EncodeRequest(bad);
    auto reply = transport.Send(r);
    REQUIRE(reply.ok());
    CHECK(reply->status == 400);
  }
  // Admin routes with a phone number where a device id goes.
  sync::HttpRequest admin;
  admin.path = "/v1/admin/devices/13612345678/revoke";
  admin.headers = {{"Authorization", "Bearer " + server.Token("boss", "", server::Role::kAdmin)}};
  REQUIRE(transport.Send(admin).ok());

  const std::string log = server.Log();
  INFO(log);
  REQUIRE(log.find("\"route\":\"/v1/sync\"") != std::string::npos);
  for (const Person& p : people) {
    CHECK(log.find(p.name) == std::string::npos);
    CHECK(log.find(p.phone) == std::string::npos);
    CHECK(log.find(p.id_number) == std::string::npos);
    CHECK(log.find(std::string(p.id_number).substr(0, 14)) == std::string::npos);
  }
  for (const char* other : {"13612345679", "vip@example.com", "欧阳", "隔壁", "1101011990"}) {
    CHECK(log.find(other) == std::string::npos);
  }
}
