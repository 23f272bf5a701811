// Uses the installed static C++ libraries: a store with change capture, and the archive.
#include <fieldbook/core/archive.h>
#include <fieldbook/sync/change_capture.h>

#include <iostream>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  auto store = fieldbook::Store::Open(std::string(argv[1]) + "/consumer_cxx.db");
  if (!store.ok()) {
    std::cerr << store.status().ToString() << "\n";
    return 1;
  }
  fieldbook::Status attached = fieldbook::sync::AttachSync(**store);
  fieldbook::Status init = fieldbook::Archive::Init(**store, "agent-1", "");
  if (!attached.ok() || !init.ok()) return 1;
  fieldbook::Archive archive(**store);
  auto id = archive.Add("customers", R"({"name":"consumer"})");
  auto pending = fieldbook::sync::PendingRowCount(**store);
  if (!id.ok() || !pending.ok() || *pending != 1) return 1;
  std::cout << "added " << *id << ", " << *pending << " row to push\n";
  return 0;
}
