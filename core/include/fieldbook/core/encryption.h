// Encryption at rest of sensitive columns (ID numbers, phones, street addresses, and the
// values kept in conflict records): AES-256-GCM through OpenSSL EVP, under a key the app
// supplies (the platform's key store hook; the CLI's --key-file).
//
// What is encrypted: every TEXT column the registry marks Sensitive (`.Sensitive()`), in
// every table the profile holds. Numeric sensitive columns (visit coordinates) cannot
// hold a ciphertext in a STRICT table and stay numbers. A sealed value is the text
// "fbenc1:" + base64(12-byte nonce | ciphertext | 16-byte tag); a fresh nonce per value.
//
// Where values are plaintext: in memory, in everything Records and the sync engine read
// (ReadRow opens sealed cells), on the wire (the server merges, validates and scopes
// plaintext; TLS protects transit and the server's disk is its operator's concern), in
// `export`, and in fb_stash rows that wait for their parent to arrive (transient).
//
// Invariants:
//  1. A profile is either plain (no fb_settings "encryption.check") or encrypted under
//     exactly one key, whose check value is stored there; UnlockStore refuses a missing
//     or wrong key with kWrongKey before anything is read or written.
//  2. Enabling and rotating re-encrypt every sensitive value in one transaction, with
//     capture suspended (no value changes, so nothing is pushed), secure_delete on and
//     full-text indexes rebuilt, so no plaintext or old ciphertext lingers.
//  3. A cell that fails to open (tampered bytes) reads as NULL, never as garbage.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"
#include "fieldbook/core/value.h"

namespace fieldbook {

class CellCipher {
 public:
  // The AES key is SHA-256 over a fixed label and the app's key (16 to 64 bytes).
  static Result<std::shared_ptr<const CellCipher>> Create(std::string_view key);
  ~CellCipher();
  CellCipher(const CellCipher&) = delete;
  CellCipher& operator=(const CellCipher&) = delete;

  Result<std::string> Seal(std::string_view plain) const;
  Result<std::string> Open(std::string_view sealed) const;
  static bool IsSealed(std::string_view text);

 private:
  CellCipher() = default;
  unsigned char key_[32] = {};
};

// True for the columns encrypted at rest: TEXT columns marked Sensitive.
bool IsEncryptedColumn(const ColumnSpec& column);
// The value as stored: sealed when the store is encrypted and the column is.
Result<Value> SealCell(const Store& store, const ColumnSpec& column, const Value& value);
// The value as read: opened when sealed (NULL when it does not open).
Value OpenCell(const Store* store, const Value& value);

// The key in a key file: its bytes, without a trailing newline.
Result<std::string> ReadKeyFile(const std::string& path);

// Runs `body` with change capture suspended (the sync layer supplies it; without sync
// the body runs as is).
using UncapturedRunner = std::function<Status(const std::function<Status()>& body)>;

// Makes `store` usable: with a key, verifies it (or, on a plain profile, encrypts every
// sensitive value under it) and installs the cipher; without one, refuses an encrypted
// profile. `tables` are every table the profile holds.
Status UnlockStore(Store& store, const std::optional<std::string>& key, const std::vector<const TableSpec*>& tables,
                   const UncapturedRunner& uncaptured = {});
// Re-encrypts every sensitive value under `new_key` in one transaction and installs it.
Status RotateKey(Store& store, std::string_view new_key, const std::vector<const TableSpec*>& tables,
                 const UncapturedRunner& uncaptured = {});
// True when the profile is encrypted (a key check is stored).
Result<bool> IsEncrypted(Store& store);

}  // namespace fieldbook
