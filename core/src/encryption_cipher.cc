// CellCipher: AES-256-GCM of one value, and the profile-wide key check and rotation.
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fstream>
#include <iterator>

#include "fieldbook/core/encryption.h"

namespace fieldbook {
namespace {

constexpr std::string_view kPrefix = "fbenc1:";
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
constexpr const char* kCheckSetting = "encryption.check";
constexpr std::string_view kCheckText = "fieldbook key check v1";

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

Status CryptoError(const char* what) { return Status(ErrorCode::kInternal, std::string("encryption: ") + what); }

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

std::optional<std::string> Unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (len < 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(len) - pad);
  return out;
}

// Re-encrypts every sensitive text value from `from` (null: plaintext) to `to`.
Status Reencrypt(Store& store, const CellCipher* from, const CellCipher& to, const std::vector<const TableSpec*>& tables) {
  for (const TableSpec* t : tables) {
    for (const ColumnSpec& c : t->columns) {
      if (!IsEncryptedColumn(c)) continue;
      const std::string col = QuoteIdent(c.name);
      std::vector<std::pair<std::string, std::string>> rows;  // id, stored text
      {
        FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT id, " + col + " FROM " + QuoteIdent(t->name) +
                                                        " WHERE typeof(" + col + ") = 'text'"));
        for (;;) {
          FB_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          rows.emplace_back(st.String(0), st.String(1));
        }
      }
      FB_ASSIGN_OR_RETURN(Statement upd, store.Prepare("UPDATE " + QuoteIdent(t->name) + " SET " + col +
                                                       " = ?2 WHERE id = ?1"));
      for (const auto& [id, stored] : rows) {
        std::string plain = stored;
        if (CellCipher::IsSealed(stored)) {
          if (!from) return Status(ErrorCode::kCorrupt, "a sealed value in a profile without a key", t->name + "." + c.name);
          FB_ASSIGN_OR_RETURN(plain, from->Open(stored));
        }
        FB_ASSIGN_OR_RETURN(std::string sealed, to.Seal(plain));
        FB_RETURN_IF_ERROR(upd.Bind(1, id).Bind(2, sealed).Run());
        upd.Reset();
      }
    }
  }
  FB_ASSIGN_OR_RETURN(std::string check, to.Seal(kCheckText));
  return store.SetSetting(kCheckSetting, check);
}

// One transaction: re-encrypt under `to`, capture suspended, freed bytes overwritten.
Status Rewrite(Store& store, const CellCipher* from, const CellCipher& to, const std::vector<const TableSpec*>& tables,
               const UncapturedRunner& uncaptured) {
  int64_t previous = 0;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("PRAGMA secure_delete"));
    FB_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) previous = st.Int(0);
  }
  FB_RETURN_IF_ERROR(store.Exec("PRAGMA secure_delete=ON"));
  Status s = [&]() -> Status {
    FB_ASSIGN_OR_RETURN(Transaction txn, store.Begin());
    auto body = [&]() -> Status {
      FB_RETURN_IF_ERROR(Reencrypt(store, from, to, tables));
      return store.OptimizeFullText();
    };
    FB_RETURN_IF_ERROR(uncaptured ? uncaptured(body) : body());
    return txn.Commit();
  }();
  Status off = store.Exec("PRAGMA secure_delete=" + std::to_string(previous));
  return s.ok() ? off : s;
}

}  // namespace

CellCipher::~CellCipher() { OPENSSL_cleanse(key_, sizeof key_); }

Result<std::shared_ptr<const CellCipher>> CellCipher::Create(std::string_view key) {
  if (key.size() < 16 || key.size() > 64) {
    return Status(ErrorCode::kInvalidArgument, "a database key is 16 to 64 bytes, got " + std::to_string(key.size()),
                  "key");
  }
  std::shared_ptr<CellCipher> cipher(new CellCipher());
  std::string material = "fieldbook at-rest key v1";
  material.append(key.data(), key.size());
  const int ok = EVP_Digest(material.data(), material.size(), cipher->key_, nullptr, EVP_sha256(), nullptr);
  OPENSSL_cleanse(material.data(), material.size());
  if (ok != 1) return CryptoError("deriving the key failed");
  return std::shared_ptr<const CellCipher>(std::move(cipher));
}

bool CellCipher::IsSealed(std::string_view text) { return text.substr(0, kPrefix.size()) == kPrefix; }

Result<std::string> CellCipher::Seal(std::string_view plain) const {
  std::string buf(kNonce + plain.size() + kTag, '\0');
  auto* out = reinterpret_cast<unsigned char*>(buf.data());
  if (RAND_bytes(out, static_cast<int>(kNonce)) != 1) return CryptoError("no random bytes for a nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_, out) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonce, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTag), out + kNonce + plain.size()) != 1) {
    return CryptoError("sealing failed");
  }
  return std::string(kPrefix) + Base64(out, buf.size());
}

Result<std::string> CellCipher::Open(std::string_view sealed) const {
  if (!IsSealed(sealed)) return Status(ErrorCode::kCorrupt, "not an encrypted value");
  auto raw = Unbase64(sealed.substr(kPrefix.size()));
  if (!raw || raw->size() < kNonce + kTag) return Status(ErrorCode::kCorrupt, "encrypted value is damaged");
  const auto* in = reinterpret_cast<const unsigned char*>(raw->data());
  const size_t n = raw->size() - kNonce - kTag;
  std::string plain(n, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string tag(raw->data() + kNonce + n, kTag);
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_, in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, in + kNonce,
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTag), tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return Status(ErrorCode::kWrongKey, "an encrypted value does not open with this key");
  }
  return plain;
}

bool IsEncryptedColumn(const ColumnSpec& c) {
  return c.sensitivity == Sensitivity::kSensitive && c.type == SqlType::kText;
}

Result<Value> SealCell(const Store& store, const ColumnSpec& c, const Value& v) {
  const CellCipher* cipher = store.cipher();
  const std::string* text = AsText(v);
  if (!cipher || !text || !IsEncryptedColumn(c) || CellCipher::IsSealed(*text)) return v;
  FB_ASSIGN_OR_RETURN(std::string sealed, cipher->Seal(*text));
  return Value{std::move(sealed)};
}

Value OpenCell(const Store* store, const Value& v) {
  const std::string* text = AsText(v);
  if (!text || !CellCipher::IsSealed(*text)) return v;
  const CellCipher* cipher = store ? store->cipher() : nullptr;
  if (!cipher) return Value{};
  auto plain = cipher->Open(*text);
  if (!plain.ok()) return Value{};
  return Value{std::move(plain).value()};
}

Result<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kNotFound, "cannot read the key file " + path, "key-file");
  std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 16 || key.size() > 64) {
    return Status(ErrorCode::kInvalidArgument, "the key file must hold 16 to 64 bytes", "key-file");
  }
  return key;
}

Result<bool> IsEncrypted(Store& store) {
  FB_ASSIGN_OR_RETURN(std::optional<std::string> check, store.GetSetting(kCheckSetting));
  return check.has_value();
}

Status UnlockStore(Store& store, const std::optional<std::string>& key, const std::vector<const TableSpec*>& tables,
                   const UncapturedRunner& uncaptured) {
  FB_ASSIGN_OR_RETURN(std::optional<std::string> check, store.GetSetting(kCheckSetting));
  if (!key) {
    if (check) {
      return Status(ErrorCode::kWrongKey,
                    "this profile is encrypted: give its key (--key-file FILE or FIELDBOOK_KEY_FILE)", "key");
    }
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(std::shared_ptr<const CellCipher> cipher, CellCipher::Create(*key));
  if (check) {
    auto opened = cipher->Open(*check);
    if (!opened.ok() || *opened != kCheckText) {
      return Status(ErrorCode::kWrongKey, "the key does not open this profile (wrong key)", "key");
    }
  } else {
    FB_RETURN_IF_ERROR(Rewrite(store, nullptr, *cipher, tables, uncaptured));
  }
  store.SetCipher(std::move(cipher));
  return Status::Ok();
}

Status RotateKey(Store& store, std::string_view new_key, const std::vector<const TableSpec*>& tables,
                 const UncapturedRunner& uncaptured) {
  const CellCipher* current = store.cipher();
  if (!current) return Status(ErrorCode::kWrongKey, "the profile is not unlocked with its current key", "key");
  FB_ASSIGN_OR_RETURN(std::shared_ptr<const CellCipher> next, CellCipher::Create(new_key));
  FB_RETURN_IF_ERROR(Rewrite(store, current, *next, tables, uncaptured));
  store.SetCipher(std::move(next));
  return Status::Ok();
}

}  // namespace fieldbook
