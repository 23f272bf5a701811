// Shared test helpers: temporary directories and paths.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace fieldbook::testing {

// A fresh directory removed (with its contents) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Reads a whole file; empty when it does not exist.
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

// A whole number from the environment (FIELDBOOK_SIM_SEEDS, FIELDBOOK_FUZZ_SEED, ...);
// `fallback` when unset or empty.
uint64_t EnvNumber(const char* name, uint64_t fallback);

// Directory of the built binaries (fieldbook, fieldbook-server), set by CMake.
std::string BinaryDir();
// Source tree root, set by CMake.
std::string SourceDir();

}  // namespace fieldbook::testing
