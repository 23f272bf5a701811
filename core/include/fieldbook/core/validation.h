// Validation of the identifiers and contact details an agent types in. Each check
// returns a Status naming what is wrong (the caller prefixes the field name).
#pragma once

#include <string>
#include <string_view>

#include "fieldbook/core/civil_time.h"
#include "fieldbook/core/status.h"

namespace fieldbook {

// Mainland resident identity card number (居民身份证号码), GB 11643-1999: 18 characters,
// 6-digit region, birth date YYYYMMDD, 3-digit sequence, ISO 7064 MOD 11-2 check
// character (0-9 or X). A lower-case x is accepted and normalised to X.
Result<std::string> NormalizeResidentId(std::string_view id);
struct ResidentIdFacts {
  Date birth_date;
  bool male = false;  // odd sequence digit
};
ResidentIdFacts ResidentIdInfo(std::string_view normalized_id);

// Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters from
// 0-9 and A-Y without I, O, S, V, Z; weighted MOD 31 check character.
Result<std::string> NormalizeCreditCode(std::string_view code);

// Phone numbers: a mainland mobile (1[3-9] and 9 more digits, optionally with +86/0086 and
// spaces or dashes) is normalised to its 11 digits; a mainland landline (0 + area code +
// 7-8 digits, optional extension) or an international number (+ country code, 7-15
// digits in all) is kept as typed.
Result<std::string> NormalizePhone(std::string_view phone);
bool IsMainlandMobile(std::string_view normalized);

Status ValidateEmail(std::string_view email);
// UTF-8 well-formedness (RapidJSON also checks on parse; this guards other entry points).
bool IsValidUtf8(std::string_view text);

}  // namespace fieldbook
