// Redaction of personal data in text that leaves the program as an error or a log line.
//
// Error messages are written not to repeat values (they name the field instead); this is
// the safety net at the boundaries (CLI stderr, the sync protocol's error bodies, the C
// ABI's error messages) for text that carries caller input anyway, such as an id argument
// that was really a phone number.
//
// Guarantees: every mainland mobile number (1[3-9] and 9 digits, optionally +86/0086/86
// prefixed), every 18-character resident ID number (17 digits and a digit or X) and every
// 15-digit legacy resident ID that stands alone (not part of a longer run of digits or
// letters) is replaced by "[redacted]". Other text is unchanged.
#pragma once

#include <string>
#include <string_view>

namespace fieldbook {

std::string RedactPersonalData(std::string_view text);

}  // namespace fieldbook
