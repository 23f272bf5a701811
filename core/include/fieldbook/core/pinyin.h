// Pinyin keys and Chinese collation for customer names.
//
// A name's keys are its pinyin initials and its full pinyin, lower-case ASCII, for every
// reading we accept: ICU's "Han-Latin; Latin-ASCII" reading and, when the name starts with
// a surname that reads differently as a surname (单 shan, 曾 zeng, 解 xie, 区 ou, 仇 qiu,
// 朴 piao, 查 zha, 盖 ge, 覃 qin, 尉迟 yuchi), the surname reading too. 单田芳 has the keys
// "dtf", "dantianfang", "stf" and "shantianfang".
//
// Guarantees:
//  1. The keys live in the local table fb_customer_pinyin (not synced: every device
//     derives them from the synced name). Triggers on customers mark a row stale on every
//     insert and name change, whoever writes it (the app, an import, a sync pull);
//     RefreshPinyinIndex recomputes the stale rows before a search or sort reads them.
//  2. The sort key is ICU's collation key for locale "zh" (pinyin order), compared as
//     bytes, so ORDER BY on it is the Chinese order and can use an index.
//  3. A build without ICU computes nothing: PinyinAvailable() is false and the functions
//     below return kUnavailable, saying so.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook {

bool PinyinAvailable();

struct PinyinReading {
  std::string full;      // "zhangsan"
  std::string initials;  // "zs"
  std::vector<std::string> syllables;  // {"zhang", "san"}
};

// Converts names to pinyin and collation keys; caches each Han character's reading, so
// converting many names costs little more than one lookup per character. Not thread-safe:
// one per thread.
class PinyinConverter {
 public:
  static Result<std::unique_ptr<PinyinConverter>> Create();
  ~PinyinConverter();

  // The common reading first, then the surname reading when it differs.
  Result<std::vector<PinyinReading>> Readings(std::string_view name);
  // "|zs|zhangsan|" with every reading's initials and full pinyin between bars.
  Result<std::string> Keys(std::string_view name);
  // ICU collation key (locale "zh", pinyin order) for byte-wise comparison.
  Result<std::string> SortKey(std::string_view name);

  struct Impl;

 private:
  explicit PinyinConverter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The search text as a pinyin query ("Zhang San" -> "zhangsan"), or empty when it is not
// pinyin-like (only ASCII letters and spaces, at least one letter).
std::string PinyinQuery(std::string_view search);

// Recomputes the keys of customers whose name changed since the last refresh, in one
// transaction. Without ICU it does nothing.
Status RefreshPinyinIndex(Store& store);

// SQL that keeps fb_customer_pinyin (schema version 2).
std::vector<SchemaStep> PinyinSchemaSteps();
// Its insert trigger for many customers at once.
std::vector<InsertTriggerBulkForm> PinyinBulkForms();

}  // namespace fieldbook
