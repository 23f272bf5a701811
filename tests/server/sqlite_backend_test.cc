// The embedded backend's own housekeeping.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "support/test_support.h"
#include "sync/harness.h"

using namespace fieldbook;
using namespace fieldbook::testing;

TEST_CASE("sqlite backend: the WAL is folded back into the database while the server runs", "[server]") {
  // Commits leave checkpoints to the backend's checkpointer thread; should it not run,
  // the WAL would grow without end, since the sessions' commits no longer checkpoint.
  TempDir dir;
  const std::string db = dir.File("server.db");
  TestServer server(db);
  TestDevice a(dir.File("a.db"), "agent-1", "team-1");
  const std::string token = server.Token("agent-1", "team-1");
  const std::string notes(3000, 'n');
  for (int i = 0; i < 3000; ++i) {
    REQUIRE(a.archive->Add("customers", R"({"name":"客户)" + std::to_string(i) + R"(","notes":")" + notes + "\"}").ok());
  }
  const auto before = std::filesystem::file_size(db);
  auto report = a.Sync(*server.transport, token);
  REQUIRE(report.ok());
  REQUIRE(report->pushed == 3000);
  // 3000 rows of 3000 bytes pass the WAL threshold (1000 pages) more than once.
  auto folded = [&] { return std::filesystem::file_size(db) > before + (1u << 20); };
  for (int i = 0; i < 200 && !folded(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  INFO("database " << std::filesystem::file_size(db) << " bytes, WAL " << std::filesystem::file_size(db + "-wal"));
  CHECK(folded());
  // And the server goes on serving from it.
  TestDevice b(dir.File("b.db"), "agent-1", "team-1");
  auto pulled = b.Sync(*server.transport, token);
  REQUIRE(pulled.ok());
  CHECK(pulled->pulled == 3000);
}
