#include "fieldbook/core/json.h"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <vector>

namespace fieldbook {

namespace {

constexpr int kMaxDepth = 64;

// Hostile input may nest thousands of levels deep; the parser and writers recurse, so
// the depth is bounded before parsing. Brackets inside strings do not count.
bool NestsTooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what) {
  if (NestsTooDeep(text)) {
    return Status(ErrorCode::kInvalidJson, std::string(what) + " nests deeper than " +
                                               std::to_string(kMaxDepth) + " levels");
  }
  rapidjson::Document doc;
  // Full-document parse: trailing garbage is an error, as is invalid UTF-8.
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (doc.HasParseError()) {
    return Status(ErrorCode::kInvalidJson,
                  std::string(what) + " is not valid JSON: " +
                      rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                      std::to_string(doc.GetErrorOffset()));
  }
  return doc;
}

Status ParseJsonObjectInPlace(std::string& text, std::string_view what, rapidjson::Document& doc) {
  if (text.find('\0') != std::string::npos) {
    // In-place parsing stops at a NUL byte; a raw NUL is not valid JSON anyway.
    return Status(ErrorCode::kInvalidJson, std::string(what) + " is not valid JSON: it contains a NUL byte");
  }
  if (NestsTooDeep(text)) {
    return Status(ErrorCode::kInvalidJson, std::string(what) + " nests deeper than " +
                                               std::to_string(kMaxDepth) + " levels");
  }
  doc.SetNull();
  doc.GetAllocator().Clear();
  doc.ParseInsitu<rapidjson::kParseValidateEncodingFlag>(text.data());
  if (doc.HasParseError()) {
    return Status(ErrorCode::kInvalidJson,
                  std::string(what) + " is not valid JSON: " +
                      rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                      std::to_string(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) {
    return Status(ErrorCode::kInvalidJson,
                  std::string(what) + " must be a JSON object, not " + JsonTypeName(doc));
  }
  return Status::Ok();
}

Result<rapidjson::Document> ParseJsonObject(std::string_view text, std::string_view what) {
  auto doc = ParseJson(text, what);
  if (doc.ok() && !doc->IsObject()) {
    return Status(ErrorCode::kInvalidJson,
                  std::string(what) + " must be a JSON object, not " + JsonTypeName(*doc));
  }
  return doc;
}

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  value.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

void WriteCanonical(const rapidjson::Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    members.reserve(v.MemberCount());
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) members.push_back(&*it);
    std::sort(members.begin(), members.end(), [](auto* a, auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      WriteCanonical(m->value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) WriteCanonical(e, w);
    w.EndArray();
  } else {
    v.Accept(w);
  }
}

std::string ToCanonicalJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  WriteCanonical(value, w);
  return std::string(buf.GetString(), buf.GetSize());
}

const char* JsonTypeName(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsArray()) return "an array";
  return "an object";
}

}  // namespace fieldbook
