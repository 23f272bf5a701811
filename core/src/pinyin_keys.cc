// Pinyin readings and collation keys through ICU, and the local index that keeps them.
#include "fieldbook/core/pinyin.h"

#include <cctype>
#include <unordered_map>

#if FIELDBOOK_WITH_ICU
#include <unicode/coll.h>
#include <unicode/translit.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>
#endif

namespace fieldbook {
namespace {

[[maybe_unused]] Status Unavailable() {
  return Status(ErrorCode::kUnavailable,
                "pinyin search and Chinese sort are unavailable: this fieldbook was built without ICU");
}

// Surnames whose surname reading differs from the common one. Longest first.
struct SurnameReading {
  const char* surname;
  std::vector<const char*> syllables;
};
[[maybe_unused]] const std::vector<SurnameReading>& SurnameReadings() {
  static const std::vector<SurnameReading> table = {
      {"尉迟", {"yu", "chi"}}, {"单", {"shan"}}, {"曾", {"zeng"}}, {"解", {"xie"}}, {"区", {"ou"}},
      {"仇", {"qiu"}},         {"朴", {"piao"}}, {"查", {"zha"}},  {"盖", {"ge"}},  {"覃", {"qin"}},
  };
  return table;
}

[[maybe_unused]] PinyinReading FromSyllables(std::vector<std::string> syllables) {
  PinyinReading r;
  for (const auto& s : syllables) {
    r.full += s;
    r.initials += s.front();
  }
  r.syllables = std::move(syllables);
  return r;
}

}  // namespace

std::string PinyinQuery(std::string_view search) {
  std::string out;
  for (char c : search) {
    const auto u = static_cast<unsigned char>(c);
    if (u == ' ' || u == '\t') continue;
    if (u >= 0x80 || !std::isalpha(u)) return {};
    out += static_cast<char>(std::tolower(u));
  }
  return out;
}

#if FIELDBOOK_WITH_ICU

struct PinyinConverter::Impl {
  std::unique_ptr<icu::Transliterator> latin;
  std::unique_ptr<icu::Collator> collator;
  std::unordered_map<UChar32, std::string> cache;  // one character's reading, lower-case ASCII

  const std::string& Reading(UChar32 c) {
    auto it = cache.find(c);
    if (it != cache.end()) return it->second;
    icu::UnicodeString s(c);
    latin->transliterate(s);
    std::string utf8, out;
    s.toUTF8String(utf8);
    for (char ch : utf8) {
      const auto u = static_cast<unsigned char>(ch);
      if (u < 0x80 && std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    }
    return cache.emplace(c, std::move(out)).first->second;
  }

  // Syllables of `text`: one per Han character, one per run of other letters and digits.
  Result<std::vector<std::string>> Syllables(std::string_view text) {
    std::vector<std::string> out;
    std::string word;
    auto flush = [&] {
      if (!word.empty()) out.push_back(std::move(word));
      word.clear();
    };
    const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
    const auto length = static_cast<int32_t>(text.size());
    for (int32_t i = 0; i < length;) {
      UChar32 c;
      U8_NEXT(bytes, i, length, c);
      if (c < 0) return Status(ErrorCode::kInvalidField, "is not valid UTF-8", "name");
      UErrorCode status = U_ZERO_ERROR;
      if (uscript_getScript(c, &status) == USCRIPT_HAN) {
        flush();
        const std::string& r = Reading(c);
        if (!r.empty()) out.push_back(r);
      } else if (u_isalnum(c)) {
        word += c < 0x80 ? std::string(1, static_cast<char>(std::tolower(c))) : Reading(c);
      } else {
        flush();
      }
    }
    flush();
    return out;
  }
};

PinyinConverter::PinyinConverter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PinyinConverter::~PinyinConverter() = default;

bool PinyinAvailable() { return true; }

Result<std::unique_ptr<PinyinConverter>> PinyinConverter::Create() {
  auto impl = std::make_unique<Impl>();
  UErrorCode status = U_ZERO_ERROR;
  impl->latin.reset(icu::Transliterator::createInstance("Han-Latin; Latin-ASCII", UTRANS_FORWARD, status));
  if (U_FAILURE(status) || !impl->latin) {
    return Status(ErrorCode::kUnavailable, std::string("ICU has no Han-Latin transliterator: ") + u_errorName(status));
  }
  status = U_ZERO_ERROR;
  impl->collator.reset(icu::Collator::createInstance(icu::Locale("zh"), status));
  if (U_FAILURE(status) || !impl->collator) {
    return Status(ErrorCode::kUnavailable, std::string("ICU has no zh collator: ") + u_errorName(status));
  }
  return std::unique_ptr<PinyinConverter>(new PinyinConverter(std::move(impl)));
}

Result<std::vector<PinyinReading>> PinyinConverter::Readings(std::string_view name) {
  FB_ASSIGN_OR_RETURN(std::vector<std::string> common, impl_->Syllables(name));
  std::vector<PinyinReading> out;
  if (common.empty()) return out;
  out.push_back(FromSyllables(common));
  for (const auto& s : SurnameReadings()) {
    const std::string_view surname(s.surname);
    if (name.substr(0, surname.size()) != surname) continue;
    FB_ASSIGN_OR_RETURN(std::vector<std::string> rest, impl_->Syllables(name.substr(surname.size())));
    std::vector<std::string> syllables(s.syllables.begin(), s.syllables.end());
    syllables.insert(syllables.end(), rest.begin(), rest.end());
    PinyinReading alt = FromSyllables(std::move(syllables));
    if (alt.full != out.front().full) out.push_back(std::move(alt));
    break;
  }
  return out;
}

Result<std::string> PinyinConverter::SortKey(std::string_view name) {
  const icu::UnicodeString s = icu::UnicodeString::fromUTF8(icu::StringPiece(name.data(), static_cast<int32_t>(name.size())));
  std::string key(64, '\0');
  int32_t n = impl_->collator->getSortKey(s, reinterpret_cast<uint8_t*>(key.data()), static_cast<int32_t>(key.size()));
  if (n > static_cast<int32_t>(key.size())) {
    key.resize(static_cast<size_t>(n));
    n = impl_->collator->getSortKey(s, reinterpret_cast<uint8_t*>(key.data()), n);
  }
  if (n <= 0) return Status(ErrorCode::kInternal, "ICU could not make a collation key");
  key.resize(static_cast<size_t>(n - 1));  // without the terminating zero byte
  return key;
}

#else  // !FIELDBOOK_WITH_ICU

struct PinyinConverter::Impl {};
PinyinConverter::PinyinConverter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PinyinConverter::~PinyinConverter() = default;
bool PinyinAvailable() { return false; }
Result<std::unique_ptr<PinyinConverter>> PinyinConverter::Create() { return Unavailable(); }
Result<std::vector<PinyinReading>> PinyinConverter::Readings(std::string_view) { return Unavailable(); }
Result<std::string> PinyinConverter::SortKey(std::string_view) { return Unavailable(); }

#endif

Result<std::string> PinyinConverter::Keys(std::string_view name) {
  FB_ASSIGN_OR_RETURN(std::vector<PinyinReading> readings, Readings(name));
  std::string keys = "|";
  for (const auto& r : readings) keys += r.initials + "|" + r.full + "|";
  return keys;
}

Status RefreshPinyinIndex(Store& store) {
  if (!PinyinAvailable()) return Status::Ok();
  FB_ASSIGN_OR_RETURN(Statement stale, store.Prepare(
      "SELECT c.rowid, c.name FROM fb_customer_pinyin p JOIN customers c ON c.rowid = p.rowid "
      "WHERE p.keys IS NULL"));
  FB_ASSIGN_OR_RETURN(bool any, stale.Step());
  if (!any) return Status::Ok();
  stale.Reset();
  FB_ASSIGN_OR_RETURN(std::unique_ptr<PinyinConverter> converter, PinyinConverter::Create());
  FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
  FB_ASSIGN_OR_RETURN(Statement update,
                      store.Prepare("UPDATE fb_customer_pinyin SET keys = ?2, sort_key = ?3 WHERE rowid = ?1"));
  for (;;) {
    FB_ASSIGN_OR_RETURN(bool row, stale.Step());
    if (!row) break;
    const std::string name = stale.String(1);
    auto keys = converter->Keys(name);
    // A name that is not valid UTF-8 still gets a (empty) key so it is not retried forever.
    FB_ASSIGN_OR_RETURN(std::string sort_key, converter->SortKey(name));
    update.Bind(1, stale.Int(0)).Bind(2, keys.ok() ? *keys : std::string("|")).BindBlob(3, sort_key.data(), sort_key.size());
    FB_RETURN_IF_ERROR(update.Run());
    update.Reset();
  }
  stale.Reset();
  return txn.Commit();
}

std::vector<SchemaStep> PinyinSchemaSteps() {
  return {
      {2,
       "CREATE TABLE IF NOT EXISTS fb_customer_pinyin (rowid INTEGER PRIMARY KEY, keys TEXT, sort_key BLOB) STRICT"},
      {2, "CREATE INDEX IF NOT EXISTS fb_ix_customer_pinyin_stale ON fb_customer_pinyin(rowid) WHERE keys IS NULL"},
      {2, "CREATE INDEX IF NOT EXISTS fb_ix_customer_pinyin_sort ON fb_customer_pinyin(sort_key)"},
      {2,
       "CREATE TRIGGER IF NOT EXISTS fb_customer_pinyin_ai AFTER INSERT ON customers BEGIN "
       "INSERT OR REPLACE INTO fb_customer_pinyin(rowid, keys, sort_key) VALUES (new.rowid, NULL, NULL); END"},
      {2,
       "CREATE TRIGGER IF NOT EXISTS fb_customer_pinyin_au AFTER UPDATE OF name ON customers "
       "WHEN old.name IS NOT new.name BEGIN "
       "INSERT OR REPLACE INTO fb_customer_pinyin(rowid, keys, sort_key) VALUES (new.rowid, NULL, NULL); END"},
      {2,
       "CREATE TRIGGER IF NOT EXISTS fb_customer_pinyin_ad AFTER DELETE ON customers BEGIN "
       "DELETE FROM fb_customer_pinyin WHERE rowid = old.rowid; END"},
      {2, "INSERT OR IGNORE INTO fb_customer_pinyin(rowid) SELECT rowid FROM customers"},
  };
}

std::vector<InsertTriggerBulkForm> PinyinBulkForms() {
  return {{"customers", "fb_customer_pinyin_ai",
           "INSERT OR REPLACE INTO fb_customer_pinyin(rowid, keys, sort_key) "
           "SELECT rowid, NULL, NULL FROM customers WHERE rowid BETWEEN ?1 AND ?2"}};
}

}  // namespace fieldbook
