// JSON in and out of Fieldbook (RapidJSON): strict UTF-8 parsing with errors that say
// where the input is wrong, and a canonical writer (sorted keys) for exports that must be
// byte-identical across devices.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "fieldbook/core/status.h"

namespace fieldbook {

// Parses text as one JSON value; invalid UTF-8 is an error. `what` names the input in
// the message ("--json", "line 12").
Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what);
// Like ParseJson, and the value must be an object.
Result<rapidjson::Document> ParseJsonObject(std::string_view text, std::string_view what);
// ParseJsonObject for bulk input: parses `text` in place into `doc`, reusing the memory
// of `doc`'s allocator. The document's strings point into `text`, which must outlive them
// and stay unchanged; `what` names the input in the message.
Status ParseJsonObjectInPlace(std::string& text, std::string_view what, rapidjson::Document& doc);

std::string ToJson(const rapidjson::Value& value);
// Object keys sorted by byte order at every level; arrays keep their order.
std::string ToCanonicalJson(const rapidjson::Value& value);
void WriteCanonical(const rapidjson::Value& value, rapidjson::Writer<rapidjson::StringBuffer>& w);

// "string", "number", ... for messages.
const char* JsonTypeName(const rapidjson::Value& v);

}  // namespace fieldbook
