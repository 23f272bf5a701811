#include "platform_env.h"

#include <cstring>

#include "mutex.h"

namespace fieldbook::platform {
namespace {

struct Settings {
  Mutex mu;
  std::string data_directory FB_GUARDED_BY(mu);
  fieldbook_key_provider_fn key_provider FB_GUARDED_BY(mu) = nullptr;
  void* key_context FB_GUARDED_BY(mu) = nullptr;
};

Settings& TheSettings() {
  static Settings* settings = new Settings();  // never destroyed: used until exit
  return *settings;
}

}  // namespace

void SecureZero(void* data, size_t n) {
  volatile unsigned char* p = static_cast<volatile unsigned char*>(data);
  while (n-- > 0) *p++ = 0;
}

Status SetDataDirectory(const std::string& path) {
  if (!path.empty() && path.front() != '/') {
    return Status(ErrorCode::kInvalidArgument, "the data directory must be an absolute path, not \"" + path + "\"",
                  "path");
  }
  Settings& s = TheSettings();
  MutexLock lock(s.mu);
  s.data_directory = path;
  while (s.data_directory.size() > 1 && s.data_directory.back() == '/') s.data_directory.pop_back();
  return Status::Ok();
}

std::string ResolvePath(const std::string& path) {
  Settings& s = TheSettings();
  MutexLock lock(s.mu);
  if (path.empty() || path.front() == '/' || s.data_directory.empty()) return path;
  return s.data_directory + (s.data_directory == "/" ? "" : "/") + path;
}

void SetKeyProvider(fieldbook_key_provider_fn provider, void* context) {
  Settings& s = TheSettings();
  MutexLock lock(s.mu);
  s.key_provider = provider;
  s.key_context = context;
}

Result<SecretBytes> FetchKey(const std::string& db_path) {
  fieldbook_key_provider_fn provider;
  void* context;
  {
    Settings& s = TheSettings();
    MutexLock lock(s.mu);
    provider = s.key_provider;
    context = s.key_context;
  }
  if (provider == nullptr) return SecretBytes();
  uint8_t buffer[FIELDBOOK_KEY_CAPACITY];
  size_t len = 0;
  const bool ok = provider(context, db_path.c_str(), buffer, sizeof buffer, &len);
  SecretBytes key(buffer, ok && len <= sizeof buffer ? len : 0);
  SecureZero(buffer, sizeof buffer);
  if (!ok) return Status(ErrorCode::kCantOpen, "the key store provided no key for " + db_path);
  if (len > sizeof buffer) {
    return Status(ErrorCode::kCantOpen, "the key store claimed a key of " + std::to_string(len) +
                                            " bytes for " + db_path + "; at most " +
                                            std::to_string(sizeof buffer) + " fit");
  }
  return key;
}

}  // namespace fieldbook::platform
