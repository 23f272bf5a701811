// For tests of the service calendar's second connection.
#pragma once
#include <cstdint>

namespace fieldbook::internal {

// The calendar reads visits, consents, family members and policies on a second connection
// while it reads the customers once the book holds this many customers (by the largest
// rowid; 10000 unless set). Tests of small books set 0 to take that path, then set back
// what this returns (the threshold before).
int64_t SetCalendarSharingThreshold(int64_t customers);

}  // namespace fieldbook::internal
