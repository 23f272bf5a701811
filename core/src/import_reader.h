// ImportReader: the lines of an import file turned into customer rows.
//
// Guarantees:
//  1. Lines come out in file order, each with its 1-based number (blank lines count) and
//     the bytes consumed up to its end.
//  2. Turning a line into a row (JSON parse, foreign-layout mapping, column formats)
//     touches no Store; the rules that need the store run in the writer.
//  3. Reading stops at the first refused line, so an error near the start of a large
//     file costs nothing more.
//  4. A failing input (a read error, or a stream set to throw) ends the lines and is
//     reported by status(); it never throws.
#pragma once

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "fieldbook/core/json.h"
#include "fieldbook/core/records.h"

namespace fieldbook {

struct ImportLine {
  int64_t number = 0;     // 1-based
  int64_t bytes_end = 0;  // bytes of the input consumed up to the end of this line
  Status status;          // why the line is refused, when not ok
  std::optional<RowValues> row;  // the line as customer columns; empty for a blank line
};

// Rewrites a foreign-layout line into Fieldbook's keys, in place (see docs/import.md).
Status MapForeignKeys(rapidjson::Document& doc);

class ImportReader {
 public:
  static constexpr size_t kBatchLines = 256;

  // `records` and `table` (customers) must outlive the reader.
  ImportReader(std::istream& in, const Records& records, const TableSpec& table)
      : in_(in), records_(records), table_(table) {}
  ImportReader(const ImportReader&) = delete;
  ImportReader& operator=(const ImportReader&) = delete;

  // The next lines (up to kBatchLines), in order, replacing `batch`; false when there are
  // no more.
  bool Next(std::vector<ImportLine>& batch);
  // After Next returned false: not ok when the input itself failed.
  const Status& status() const { return failure_; }

 private:
  void ReadBatch(std::vector<ImportLine>& batch);
  ImportLine Convert(std::string& line, int64_t number, int64_t bytes_end);

  std::istream& in_;
  const Records& records_;
  const TableSpec& table_;
  std::string line_;
  int64_t lines_ = 0;
  int64_t bytes_ = 0;
  bool exhausted_ = false;
  Status failure_;
  // Each line is parsed in place into this document, whose memory is reused.
  char parse_buffer_[16 * 1024];
  rapidjson::MemoryPoolAllocator<> parse_pool_{parse_buffer_, sizeof parse_buffer_};
  rapidjson::Document doc_{&parse_pool_};
};

}  // namespace fieldbook
