// Listeners need Catch2's reporter interfaces.
#define CATCH_CONFIG_EXTERNAL_INTERFACES
#include "c_api_fixture.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fieldbook::testing {
namespace {

// Fails (by exiting non-zero: ctest runs each case in its own process) a test case that
// leaves a database, sync or transport request of the library open.
struct HandleLeakListener : Catch::TestEventListenerBase {
  using TestEventListenerBase::TestEventListenerBase;
  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    const int64_t live = fieldbook_handle_count();
    if (live != 0) {
      std::fprintf(stderr, "LEAK: test case \"%s\" left %lld fieldbook handle(s) open\n", stats.testInfo.name.c_str(),
                   static_cast<long long>(live));
      std::fflush(stderr);
      std::_Exit(3);
    }
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(HandleLeakListener)

void Error::Reset() {
  std::memset(static_cast<fieldbook_error*>(this), 0x5A, sizeof(fieldbook_error));
}

bool Error::Untouched() const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(static_cast<const fieldbook_error*>(this));
  for (size_t i = 0; i < sizeof(fieldbook_error); ++i) {
    if (bytes[i] != 0x5A) return false;
  }
  return true;
}

Db::Db(const std::string& path, const char* options) {
  Error e;
  INFO(path);
  const bool ok = fieldbook_db_open(path.c_str(), options, &db_, &e);
  // A success leaves the error untouched (no terminating NUL in its pattern).
  INFO((ok ? std::string() : e.Message()));
  REQUIRE(ok);
  REQUIRE(db_ != nullptr);
}

Db::~Db() {
  if (db_ != nullptr) fieldbook_db_close(db_, nullptr);
}

void Db::Close() {
  Error e;
  const bool ok = fieldbook_db_close(db_, &e);
  INFO(e.Message());
  CHECK(ok);
  db_ = nullptr;
}

std::string Db::Call(const std::string& method, const std::string& args) {
  char* out = nullptr;
  Error e;
  const bool ok = fieldbook_db_call(db_, method.c_str(), args.c_str(), &out, &e);
  INFO(method << " " << args << " -> " << fieldbook_error_code_name(e.code) << ": " << e.Field() << ": "
              << e.Message());
  REQUIRE(ok);
  REQUIRE(out != nullptr);
  CHECK(e.Untouched());  // written only on failure
  std::string json = out;
  fieldbook_free(out);
  return json;
}

Error Db::Fail(const std::string& method, const std::string& args) {
  char* out = reinterpret_cast<char*>(0x1);  // must be reset to NULL
  Error e;
  const bool ok = fieldbook_db_call(db_, method.c_str(), args.c_str(), &out, &e);
  INFO(method << " " << args);
  REQUIRE_FALSE(ok);
  CHECK(out == nullptr);
  CHECK_FALSE(e.Untouched());
  return e;
}

std::string Db::AddCustomer(const std::string& record) {
  auto doc = Parse(Call("customer.add", record));
  REQUIRE(doc.HasMember("id"));
  return doc["id"].GetString();
}

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  INFO(json);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

}  // namespace fieldbook::testing
