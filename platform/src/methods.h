// The method table behind fieldbook_db_call: domain operations by name, JSON in and out.
//
// Each entry parses its arguments (a JSON object; unknown keys are refused) and calls the
// archive or the sync engine; each call is one transaction there. Groups register
// themselves in their own file (methods_archive.cc, methods_sync.cc); later groups
// (calendar, kanban, reports) add a file and one line in MethodTable().
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/archive.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook::platform {

// What a method may use: the open profile, under the Database's lock.
struct MethodContext {
  Store& store;
  Archive& archive;
  bool has_key = false;
};

using MethodFn = std::function<Result<std::string>(MethodContext&, const rapidjson::Value& args)>;
using MethodTableMap = std::map<std::string, MethodFn, std::less<>>;

void AddArchiveMethods(MethodTableMap& table);
void AddSyncMethods(MethodTableMap& table);
void AddOperationMethods(MethodTableMap& table);
void AddPrivacyMethods(MethodTableMap& table);
void AddReportMethods(MethodTableMap& table);

// Access audit of personal data read through a method (methods_report.cc): the optional
// "purpose" key of the arguments is checked first, the audit row written after the read.
Status CheckPurposeKey(const rapidjson::Value& args);
Status AuditMethodRead(MethodContext& context, const rapidjson::Value& args, const std::string& action,
                       const std::string& table, const std::string& id_or_rows, bool rows);
Status AuditMethodExport(MethodContext& context, const rapidjson::Value& args);

// Every method, built once.
const MethodTableMap& MethodTable();

// Parses args_json (empty means {}) and runs the method; an unknown method is
// kInvalidArgument naming it.
Result<std::string> CallMethod(MethodContext& context, std::string_view method, std::string_view args_json);

// Argument helpers shared by the method files. Each names the offending key in field().
namespace args {
// Refuses keys other than `allowed`.
Status OnlyKeys(const rapidjson::Value& args, std::initializer_list<std::string_view> allowed);
Result<std::string> RequiredString(const rapidjson::Value& args, const char* key);
Result<std::string> OptionalString(const rapidjson::Value& args, const char* key);  // "" when absent
Result<int> OptionalInt(const rapidjson::Value& args, const char* key, int fallback);
Result<bool> OptionalBool(const rapidjson::Value& args, const char* key, bool fallback);
}  // namespace args

// {"id": ID}
std::string IdJson(std::string_view id);
// {"sha256": H, "size": n, "source": S} ("source" left out when null), as the blob
// methods and fieldbook_sync_fetch_blob answer.
std::string BlobResultJson(const std::string& sha256, size_t size, const char* source);

}  // namespace fieldbook::platform
