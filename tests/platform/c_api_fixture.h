// Helpers for tests of the C API: they use fieldbook.h and the real libfieldbook only.
#pragma once

#include <catch2/catch.hpp>
#include <rapidjson/document.h>

#include <cstring>
#include <string>

#include "fieldbook/fieldbook.h"

namespace fieldbook::testing {

// A fieldbook_error that starts filled with a recognisable pattern, to tell "written"
// from "left alone".
struct Error : fieldbook_error {
  Error() { Reset(); }
  void Reset();
  bool Untouched() const;
  // Bounded: an untouched error holds the fill pattern and no terminating NUL.
  std::string Message() const { return std::string(message, strnlen(message, sizeof message)); }
  std::string Field() const { return std::string(field, strnlen(field, sizeof field)); }
};

// An open database, closed at the end of the scope.
class Db {
 public:
  explicit Db(const std::string& path, const char* options = R"({"agent":"agent-1","team":"team-1"})");
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  fieldbook_db* get() const { return db_; }
  // Closes now (checks it succeeds).
  void Close();

  // fieldbook_db_call that must succeed; returns the JSON.
  std::string Call(const std::string& method, const std::string& args = "{}");
  // fieldbook_db_call that must fail; returns the error.
  Error Fail(const std::string& method, const std::string& args = "{}");
  // customer.add; returns the id.
  std::string AddCustomer(const std::string& record);

 private:
  fieldbook_db* db_ = nullptr;
};

rapidjson::Document Parse(const std::string& json);

}  // namespace fieldbook::testing
