#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli.h"
#include "fieldbook/core/redaction.h"
#include "fieldbook/core/store.h"

namespace fieldbook::cli {

std::optional<std::string> Args::Value(const std::string& flag) const {
  auto it = values.find(flag);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

void PrepareHeapForLargeReads() {
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
  // `today` on a 100k-customer book builds ~80 MB of small objects and drops them at
  // exit. Page by page that is ~20,000 page faults, each several microseconds on a
  // virtual machine; in 2 MiB pages, a few dozen. The heap is grown by 256 MiB of address
  // space now (resident only as it is used), advised as huge pages, kept rather than
  // trimmed, and large vectors come from it too. Sync is left alone: its peak resident
  // size matters more than its page faults.
  constexpr size_t kReserve = size_t{256} << 20;
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(2 * kReserve));
  mallopt(M_TOP_PAD, static_cast<int>(kReserve));
  const auto before = reinterpret_cast<uintptr_t>(sbrk(0));
  void* volatile probe = malloc(4 << 20);  // more than the heap has free: it grows by this and the pad
  free(probe);
  const auto after = reinterpret_cast<uintptr_t>(sbrk(0));
  const uintptr_t begin = (before + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = after & ~(kHugePage - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

int ExitCodeFor(const Status& s) {
  if (s.ok()) return 0;
  if (s.code() == ErrorCode::kHashMismatch) return 1;  // damaged bytes: neither input nor a refusal
  switch (s.domain()) {
    case ErrorDomain::kValidation: return 2;
    case ErrorDomain::kNotFound: return 3;
    case ErrorDomain::kNetwork: return s.code() == ErrorCode::kCancelled ? 1 : 4;
    case ErrorDomain::kAuth: return 5;
    case ErrorDomain::kProtocol: return 5;
    default: break;
  }
  if (s.code() == ErrorCode::kNotInitialized || s.code() == ErrorCode::kAlreadyInitialized) return 2;
  return 1;
}

Status Usage(const std::string& message) { return Status(ErrorCode::kInvalidArgument, message); }

Result<std::string> RequiredValue(const Context& ctx, const std::string& flag) {
  auto v = ctx.args.Value(flag);
  if (!v) return Usage("missing --" + flag + " VALUE");
  return *v;
}

Result<std::string> Positional(const Context& ctx, size_t n, const std::string& name) {
  if (ctx.args.positional.size() <= n) return Usage("missing " + name);
  return ctx.args.positional[n];
}

bool StderrIsTty() { return isatty(STDERR_FILENO) == 1; }

void DrawProgress(std::ostream& err, const char* label, int64_t done, int64_t total) {
  constexpr int kWidth = 30;
  const double frac = total > 0 ? std::min(1.0, static_cast<double>(done) / static_cast<double>(total)) : 0.0;
  const int filled = static_cast<int>(frac * kWidth);
  err << '\r' << label << " [" << std::string(static_cast<size_t>(filled), '#')
      << std::string(static_cast<size_t>(kWidth - filled), ' ') << "] " << static_cast<int>(frac * 100) << "%"
      << std::flush;
}

namespace {

void PrintHelp(const CommandTable& table, std::ostream& out) {
  out << "usage: fieldbook --db FILE COMMAND [ARGS]\n\ncommands:\n";
  for (const auto& c : table) out << "  fieldbook " << (c.needs_db ? "--db FILE " : "") << c.usage << "\n";
  out << "\nexit codes: 0 ok, 2 bad input, 3 not found, 4 server unreachable, 5 refused, 1 other\n";
}

// Longest match of command words at argv[i...].
const Command* Match(const CommandTable& table, const std::vector<std::string>& words, size_t* consumed) {
  const Command* best = nullptr;
  size_t best_n = 0;
  for (const auto& c : table) {
    std::vector<std::string> cw;
    size_t start = 0;
    while (start <= c.words.size()) {
      size_t sp = c.words.find(' ', start);
      if (sp == std::string::npos) sp = c.words.size();
      cw.push_back(c.words.substr(start, sp - start));
      start = sp + 1;
    }
    if (cw.size() > words.size()) continue;
    bool match = true;
    for (size_t k = 0; k < cw.size() && match; ++k) match = cw[k] == words[k];
    if (match && cw.size() > best_n) best = &c, best_n = cw.size();
  }
  *consumed = best_n;
  return best;
}

int Run(int argc, char** argv) {
  CommandTable table;
  AddArchiveCommands(table);
  AddSyncCommands(table);
  AddOperationCommands(table);
  AddPrivacyCommands(table);
  AddRelationsCommands(table);
  AddReportCommands(table);
  AddBlobCommands(table);
  std::string db, key_file;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--db") {
      if (i + 1 >= argc) {
        std::cerr << "fieldbook: invalid_argument: --db needs a FILE\n";
        return 2;
      }
      db = argv[++i];
    } else if (a.rfind("--db=", 0) == 0) {
      db = a.substr(5);
    } else if (a == "--key-file" && i + 1 < argc) {
      key_file = argv[++i];
    } else if (a.rfind("--key-file=", 0) == 0) {
      key_file = a.substr(11);
    } else {
      rest.push_back(a);
    }
  }
  if (rest.empty() || rest[0] == "help" || rest[0] == "--help" || rest[0] == "-h") {
    PrintHelp(table, rest.empty() ? std::cerr : std::cout);
    return rest.empty() ? 2 : 0;
  }
  size_t consumed = 0;
  const Command* cmd = Match(table, rest, &consumed);
  if (!cmd) {
    std::cerr << "fieldbook: invalid_argument: unknown command \""
              << RedactPersonalData(rest[0] + (rest.size() > 1 ? " " + rest[1] : "")) << "\" (see `fieldbook help`)\n";
    return 2;
  }
  Context ctx{db, {}, std::cout, std::cerr, key_file};
  for (size_t i = consumed; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a.size() > 2 && a.rfind("--", 0) == 0) {
      std::string flag = a.substr(2), value;
      const size_t eq = flag.find('=');
      const bool inline_value = eq != std::string::npos;
      if (inline_value) value = flag.substr(eq + 1), flag = flag.substr(0, eq);
      const bool takes_value = cmd->value_flags.count(flag) > 0;
      const bool is_switch = cmd->switch_flags.count(flag) > 0;
      if (!takes_value && !is_switch) {
        std::cerr << "fieldbook: invalid_argument: " << cmd->words << " has no option --" << flag
                  << "\nusage: fieldbook --db FILE " << cmd->usage << "\n";
        return 2;
      }
      // A flag that may be either (e.g. --json VALUE vs --json) takes the next word as its
      // value only when that word is not another option.
      if (takes_value && !inline_value && i + 1 < rest.size() &&
          !(is_switch && rest[i + 1].rfind("--", 0) == 0)) {
        value = rest[++i];
        ctx.args.values[flag] = value;
      } else if (takes_value && inline_value) {
        ctx.args.values[flag] = value;
      } else if (is_switch) {
        ctx.args.switches.insert(flag);
      } else {
        std::cerr << "fieldbook: invalid_argument: --" << flag << " needs a value\nusage: fieldbook --db FILE "
                  << cmd->usage << "\n";
        return 2;
      }
    } else {
      ctx.args.positional.push_back(a);
    }
  }
  if (cmd->needs_db && db.empty()) {
    std::cerr << "fieldbook: invalid_argument: --db FILE is required\nusage: fieldbook --db FILE " << cmd->usage
              << "\n";
    return 2;
  }
  Status s = cmd->run(ctx);
  std::cout.flush();
  if (!s.ok()) {
    std::cerr << "fieldbook: " << RedactPersonalData(s.ToString()) << "\n";
    return ExitCodeFor(s);
  }
  return 0;
}

}  // namespace
}  // namespace fieldbook::cli

int main(int argc, char** argv) {
  fieldbook::ConfigureSqliteForProcess();
#ifdef __GLIBC__
  // The HTTP client's worker threads would each grow a malloc arena of their own; two
  // arenas keep a large sync's footprint down at no measurable cost in speed.
  mallopt(M_ARENA_MAX, 2);
#endif
  try {
    return fieldbook::cli::Run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "fieldbook: internal: " << e.what() << "\n";
    return 1;
  }
}
