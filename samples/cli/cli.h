// The `fieldbook` command-line tool: argument parsing, command table, exit codes.
//
// Exit codes (a contract scripts rely on): 0 ok, 2 bad input or usage, 3 not found,
// 4 server unreachable (nothing lost; retry later), 5 refused by the server, 1 anything else.
#pragma once

#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook::cli {

struct Args {
  std::vector<std::string> positional;          // after the command words
  std::map<std::string, std::string> values;    // --flag VALUE
  std::set<std::string> switches;               // --flag

  bool Has(const std::string& flag) const { return values.count(flag) || switches.count(flag); }
  std::optional<std::string> Value(const std::string& flag) const;
};

struct Context {
  std::string db;  // --db FILE
  Args args;
  std::ostream& out;
  std::ostream& err;
  std::string key_file;  // --key-file FILE (or FIELDBOOK_KEY_FILE): the profile's encryption key
};

struct Command {
  std::string words;                  // "customer add"
  std::string usage;                  // shown by `fieldbook help`
  std::set<std::string> value_flags;  // flags that take a value
  std::set<std::string> switch_flags; // flags that do not
  std::function<Status(Context&)> run;
  bool needs_db = true;
};

using CommandTable = std::vector<Command>;

void AddArchiveCommands(CommandTable& table);
void AddSyncCommands(CommandTable& table);
void AddOperationCommands(CommandTable& table);
void AddPrivacyCommands(CommandTable& table);
void AddRelationsCommands(CommandTable& table);
void AddReportCommands(CommandTable& table);
void AddBlobCommands(CommandTable& table);

// Access audit of personal data (audit_commands.cc). --purpose is checked before the
// read; the audit row is written after it succeeds, only for tables with personal data.
Status CheckPurposeArg(const Context& ctx);
Status AuditRow(const Context& ctx, Store& store, const std::string& action, const std::string& table,
                const std::string& id);
Status AuditRows(const Context& ctx, Store& store, const std::string& action, const std::string& table,
                 const std::string& rows_json);
Status AuditExport(const Context& ctx, Store& store);
void AddAuditCommand(CommandTable& table);

int ExitCodeFor(const Status& status);
// Usage error naming what is wrong.
Status Usage(const std::string& message);
// The JSON given with --json, or a usage error when it is missing.
fieldbook::Result<std::string> RequiredValue(const Context& ctx, const std::string& flag);
// The n-th positional argument (an id), or a usage error naming it.
fieldbook::Result<std::string> Positional(const Context& ctx, size_t n, const std::string& name);

// True when stderr is a terminal (progress bars are drawn only then).
bool StderrIsTty();
void DrawProgress(std::ostream& err, const char* label, int64_t done, int64_t total);
// For commands that read a whole book once (today, calendar, kanban, report): map the heap
// in large pages. Linux with glibc only; elsewhere nothing.
void PrepareHeapForLargeReads();

}  // namespace fieldbook::cli
