// Running the real fieldbook binary from the CLI tests, as scripts run it: a child
// process with stdin from /dev/null, its stdout, stderr and exit code.
#pragma once

#include <string>
#include <vector>

namespace fieldbook::testing {

struct Outcome {
  int code = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

// The fieldbook binary ($FIELDBOOK_BIN, else the build's bin directory).
std::string FieldbookBinary();
// argv for execv: `binary` (set to FieldbookBinary()) then `args`, null-terminated; the
// pointers refer into `binary` and `args`.
std::vector<char*> FieldbookArgv(const std::vector<std::string>& args, std::string& binary);
// A waitpid status as an exit code (128 + signal for a killed child).
int ExitCodeOf(int wait_status);

// Runs `fieldbook ARGS...` and collects both output streams.
Outcome Fieldbook(const std::vector<std::string>& args);

}  // namespace fieldbook::testing
