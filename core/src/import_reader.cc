#include "import_reader.h"

#include <cmath>
#include <exception>
#include <new>

#include "fieldbook/core/ids.h"

namespace fieldbook {
namespace {

const char* TierOf(std::string_view tier) {
  if (tier == "platinum") return "high";
  if (tier == "gold") return "potential";
  if (tier == "silver") return "general";
  if (tier == "bronze") return "low";
  return nullptr;
}

}  // namespace

// A foreign key is left alone (and then refused as unknown) when the line also carries
// the Fieldbook key it maps to.
Status MapForeignKeys(rapidjson::Document& doc) {
  auto& a = doc.GetAllocator();
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    rapidjson::Value& v = it->value;
    const char* to = nullptr;
    if (key == "id") {
      if (v.IsString() && !IsUuid(std::string_view(v.GetString(), v.GetStringLength()))) to = "external_ref";
    } else if (key == "phone") {
      to = "phones";
    } else if (key == "birthday") {
      to = "birth_date";
    } else if (key == "agent_id") {
      to = "legacy_owner";
    } else if (key == "tier") {
      to = "value_tier";
    } else if (key == "needs") {
      to = v.IsArray() ? "interests" : "needs_segment";
    } else if (key == "income") {
      to = "annual_income";
    }
    if (to == nullptr || doc.HasMember(to)) continue;
    if (key == "phone") {
      rapidjson::Value phones(rapidjson::kArrayType);
      if (!v.IsNull()) phones.PushBack(v, a);  // moves the number into the list
      v = phones;
    } else if (key == "tier" && v.IsString()) {
      if (const char* tier = TierOf(std::string_view(v.GetString(), v.GetStringLength()))) {
        v.SetString(rapidjson::StringRef(tier));
      }
    } else if (key == "income") {
      if (!v.IsNumber()) return Status(ErrorCode::kInvalidField, "expected a number", "income");
      const double fen = std::round(v.GetDouble() * 100.0);
      if (!(fen >= 0 && fen < 9.0e15)) return Status(ErrorCode::kInvalidField, "out of range", "income");
      v.SetInt64(static_cast<int64_t>(fen));
    }
    it->name.SetString(rapidjson::StringRef(to));
  }
  return Status::Ok();
}

ImportLine ImportReader::Convert(std::string& line, int64_t number, int64_t bytes_end) {
  ImportLine out;
  out.number = number;
  out.bytes_end = bytes_end;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.find_first_not_of(" \t") == std::string::npos) return out;
  out.status = ParseJsonObjectInPlace(line, "line " + std::to_string(number), doc_);
  if (out.status.ok()) out.status = MapForeignKeys(doc_);
  if (!out.status.ok()) return out;
  auto row = records_.FromJson(table_, doc_);
  if (row.ok()) {
    out.row.emplace(std::move(row).value());
  } else {
    out.status = row.status();
  }
  return out;
}

void ImportReader::ReadBatch(std::vector<ImportLine>& batch) {
  while (!exhausted_ && batch.size() < kBatchLines) {
    if (!std::getline(in_, line_)) {
      exhausted_ = true;
      if (in_.bad()) {
        failure_ = Status(ErrorCode::kIoError, "reading the import file failed after line " + std::to_string(lines_));
      }
      break;
    }
    ++lines_;
    bytes_ += static_cast<int64_t>(line_.size()) + 1;
    batch.push_back(Convert(line_, lines_, bytes_));
    if (!batch.back().status.ok()) exhausted_ = true;  // the caller stops there
  }
}

bool ImportReader::Next(std::vector<ImportLine>& batch) {
  batch.clear();
  try {
    ReadBatch(batch);
  } catch (const std::bad_alloc&) {
    failure_ = Status(ErrorCode::kInternal, "out of memory reading the import file after line " + std::to_string(lines_));
  } catch (const std::exception& e) {  // e.g. a stream set to throw
    failure_ = Status(ErrorCode::kIoError,
                      "reading the import file failed after line " + std::to_string(lines_) + ": " + e.what());
  }
  if (!failure_.ok()) {
    exhausted_ = true;
    batch.clear();
  }
  return !batch.empty();
}

}  // namespace fieldbook
