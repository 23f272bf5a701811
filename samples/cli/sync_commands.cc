#include "cli.h"

namespace fieldbook::cli {

void AddSyncCommands(CommandTable&) {}

}  // namespace fieldbook::cli
