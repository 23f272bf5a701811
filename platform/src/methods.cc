#include "methods.h"

#include <algorithm>

namespace fieldbook::platform {
namespace {

Result<std::string> ListMethods(MethodContext&, const rapidjson::Value& a) {
  FB_RETURN_IF_ERROR(args::OnlyKeys(a, {}));
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const auto& [name, fn] : MethodTable()) w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
  w.EndArray();
  return std::string(buf.GetString(), buf.GetSize());
}

MethodTableMap BuildTable() {
  MethodTableMap table;
  AddArchiveMethods(table);
  AddSyncMethods(table);
  AddOperationMethods(table);
  AddPrivacyMethods(table);
  AddReportMethods(table);
  table.emplace("methods", ListMethods);
  return table;
}

}  // namespace

const MethodTableMap& MethodTable() {
  static const MethodTableMap table = BuildTable();
  return table;
}

Result<std::string> CallMethod(MethodContext& context, std::string_view method, std::string_view args_json) {
  const auto& table = MethodTable();
  auto it = table.find(method);
  if (it == table.end()) {
    return Status(ErrorCode::kInvalidArgument,
                  "unknown method \"" + std::string(method) + "\" (the method \"methods\" lists them all)", "method");
  }
  if (args_json.find_first_not_of(" \t\r\n") == std::string_view::npos) args_json = "{}";
  auto parsed = ParseJsonObject(args_json, std::string(method) + " arguments");
  if (!parsed.ok()) return parsed.status();
  return it->second(context, *parsed);
}

namespace args {

Status OnlyKeys(const rapidjson::Value& args, std::initializer_list<std::string_view> allowed) {
  for (auto it = args.MemberBegin(); it != args.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Status(ErrorCode::kUnknownField, "unknown argument \"" + std::string(key) + "\"", std::string(key));
    }
  }
  return Status::Ok();
}

Result<std::string> OptionalString(const rapidjson::Value& args, const char* key) {
  auto it = args.FindMember(key);
  if (it == args.MemberEnd() || it->value.IsNull()) return std::string();
  if (!it->value.IsString()) {
    return Status(ErrorCode::kInvalidField, std::string("must be a string, not ") + JsonTypeName(it->value), key);
  }
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

Result<std::string> RequiredString(const rapidjson::Value& args, const char* key) {
  if (!args.HasMember(key) || args[key].IsNull()) return Status(ErrorCode::kMissingField, "is required", key);
  FB_ASSIGN_OR_RETURN(std::string value, OptionalString(args, key));
  if (value.empty()) return Status(ErrorCode::kInvalidField, "must not be empty", key);
  return value;
}

Result<int> OptionalInt(const rapidjson::Value& args, const char* key, int fallback) {
  auto it = args.FindMember(key);
  if (it == args.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsInt() || it->value.GetInt() < 0) {
    return Status(ErrorCode::kInvalidField, "must be a non-negative integer", key);
  }
  return it->value.GetInt();
}

Result<bool> OptionalBool(const rapidjson::Value& args, const char* key, bool fallback) {
  auto it = args.FindMember(key);
  if (it == args.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsBool()) {
    return Status(ErrorCode::kInvalidField, std::string("must be true or false, not ") + JsonTypeName(it->value), key);
  }
  return it->value.GetBool();
}

}  // namespace args

std::string IdJson(std::string_view id) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("id");
  w.String(id.data(), static_cast<rapidjson::SizeType>(id.size()));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace fieldbook::platform
