// Personal data must never reach the server's logs. Logs carry only chosen fields (no
// bodies, tokens or messages); every text that still goes into a log line passes through
// RedactPersonalData as a second line of defence.
#pragma once

#include <string>
#include <string_view>

namespace fieldbook::server {

// Replaces with "***": runs of 6 or more digits (phone, ID, card and account numbers,
// with an ID number's trailing X), any run of non-ASCII text (Chinese names, addresses),
// and words containing '@' (e-mail addresses). Other ASCII text is kept.
std::string RedactPersonalData(std::string_view text);

}  // namespace fieldbook::server
