// Blobs on the device: hashing, the reference format, and fb_blobs (see blobs.h).
#include "fieldbook/sync/blobs.h"
#include "blob_store.h"

#include <openssl/sha.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <set>

#include "fieldbook/core/encryption.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/change_capture.h"

namespace fieldbook::sync {
namespace {

// Every synced table with blob-reference columns, with those columns.
std::vector<std::pair<const TableSpec*, std::vector<const ColumnSpec*>>> BlobColumns(const Store& store) {
  std::vector<std::pair<const TableSpec*, std::vector<const ColumnSpec*>>> out;
  for (const TableSpec* t : SyncedTables(store)) {
    std::vector<const ColumnSpec*> cols;
    for (const ColumnSpec& c : t->columns) {
      if (IsBlobColumn(c)) cols.push_back(&c);
    }
    if (!cols.empty()) out.emplace_back(t, std::move(cols));
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), d);
  return HexEncode(d, sizeof d);
}

std::vector<std::string> BlobRefsIn(std::string_view json) {
  std::vector<std::string> out;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsArray()) return out;
  std::set<std::string> seen;
  for (const auto& e : doc.GetArray()) {
    const rapidjson::Value* hash = &e;
    if (e.IsObject()) {
      auto it = e.FindMember("sha256");
      hash = it == e.MemberEnd() ? nullptr : &it->value;
    }
    if (!hash || !hash->IsString()) continue;
    std::string h(hash->GetString(), hash->GetStringLength());
    if (IsSha256Hex(h) && seen.insert(h).second) out.push_back(std::move(h));
  }
  return out;
}

Status CreateBlobTables(Store& store) {
  return store.Exec(
      "CREATE TABLE IF NOT EXISTS fb_blobs ("
      " sha256 TEXT PRIMARY KEY NOT NULL, size INTEGER NOT NULL, data ANY NOT NULL,"
      " state TEXT NOT NULL CHECK (state IN ('upload', 'stored', 'partial', 'refused')),"
      " offset INTEGER NOT NULL DEFAULT 0, error TEXT, created_ms INTEGER NOT NULL) STRICT;"
      "CREATE INDEX IF NOT EXISTS fb_blobs_upload ON fb_blobs(created_ms) WHERE state = 'upload';");
}

Result<std::string> ReadFileBytes(const std::string& path, const std::string& field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kNotFound, "cannot read " + path, field);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status(ErrorCode::kIoError, "error reading " + path, field);
  return bytes;
}

Status WriteFileBytes(const std::string& path, std::string_view bytes, const std::string& field) {
  const std::string temp = path + ".part";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return Status(ErrorCode::kIoError, "cannot write " + path, field);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::remove(temp.c_str());
      return Status(ErrorCode::kIoError, "error writing " + path, field);
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return Status(ErrorCode::kIoError, "cannot write " + path, field);
  }
  return Status::Ok();
}

Result<std::string> OpenBytes(const Store& store, std::string_view stored, const std::string& sha256) {
  if (!CellCipher::IsSealed(stored)) return std::string(stored);
  if (!store.cipher()) return Status(ErrorCode::kWrongKey, "blob " + sha256 + " is encrypted; the profile key is needed");
  return store.cipher()->Open(stored);
}

Result<std::string> SealBytes(const Store& store, std::string_view bytes) {
  if (!store.cipher()) return std::string(bytes);
  return store.cipher()->Seal(bytes);
}

void BindStoredBytes(const Store& store, Statement& st, int index, const std::string& data) {
  static const char kEmpty = 0;  // a zero-length blob, not NULL
  if (store.cipher()) {
    st.Bind(index, data);  // sealed: text
  } else {
    st.BindBlob(index, data.empty() ? &kEmpty : data.data(), data.size());
  }
}

Result<std::string> PutLocalBlob(Store& store, std::string_view bytes) {
  const std::string sha = Sha256Hex(bytes);
  FB_ASSIGN_OR_RETURN(std::string data, SealBytes(store, bytes));
  // Putting a blob again queues it for upload again: the server may have collected it
  // since (no row named it within the grace period), and if not the upload is one
  // chunk answered "complete". A partial download or a refused upload is replaced.
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "INSERT INTO fb_blobs(sha256, size, data, state, offset, created_ms) VALUES (?1, ?2, ?3, 'upload', 0, ?4) "
      "ON CONFLICT(sha256) DO UPDATE SET data = excluded.data, size = excluded.size, state = 'upload', offset = 0, "
      "error = NULL, created_ms = excluded.created_ms WHERE fb_blobs.state <> 'upload'"));
  BindStoredBytes(store, st, 3, data);
  FB_RETURN_IF_ERROR(st.Bind(1, sha).Bind(2, static_cast<int64_t>(bytes.size())).Bind(4, store.env().NowMs()).Run());
  return sha;
}

Result<std::optional<std::string>> GetLocalBlob(Store& store, const std::string& sha256) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "SELECT data FROM fb_blobs WHERE sha256 = ?1 AND state IN ('upload', 'stored')"));
  st.Bind(1, sha256);
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::optional<std::string>();
  FB_ASSIGN_OR_RETURN(std::string bytes, OpenBytes(store, st.Text(0), sha256));
  if (Sha256Hex(bytes) != sha256) {
    return Status(ErrorCode::kHashMismatch, "the local copy of blob " + sha256 + " is damaged: its bytes hash to " +
                                                Sha256Hex(bytes));
  }
  return std::optional<std::string>(std::move(bytes));
}

Result<std::vector<std::string>> BlobsOfRoot(Store& store, const std::string& root) {
  std::vector<std::string> out;
  for (const auto& [t, cols] : BlobColumns(store)) {
    std::string where;
    if (t->partition.kind == PartitionKind::kSelf) where = "id = ?1";
    else if (t->partition.kind == PartitionKind::kRoot) where = QuoteIdent(t->partition.root_column) + " = ?1";
    else continue;
    for (const ColumnSpec* c : cols) {
      FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT " + QuoteIdent(c->name) + " FROM " + QuoteIdent(t->name) +
                                                      " WHERE " + where + " AND " + QuoteIdent(c->name) +
                                                      " IS NOT NULL"));
      st.Bind(1, root);
      for (;;) {
        FB_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        const Value v = OpenCell(&store, st.GetValue(0));
        if (const std::string* text = AsText(v)) {
          for (auto& h : BlobRefsIn(*text)) out.push_back(std::move(h));
        }
      }
    }
  }
  return out;
}

Status DropUnreferencedBlobs(Store& store, const std::vector<std::string>& sha256s) {
  const auto columns = BlobColumns(store);
  FB_ASSIGN_OR_RETURN(Statement drop, store.Prepare("DELETE FROM fb_blobs WHERE sha256 = ?1"));
  for (const auto& sha : sha256s) {
    bool referenced = false;
    for (const auto& [t, cols] : columns) {
      for (const ColumnSpec* c : cols) {
        // A hash is 64 hex digits: a substring match finds exactly the cells naming it.
        // Sealed cells (sensitive columns of an encrypted profile) are opened and read;
        // one that cannot be opened counts as naming it, to be safe.
        FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
            "SELECT " + QuoteIdent(c->name) + " FROM " + QuoteIdent(t->name) + " WHERE instr(" +
            QuoteIdent(c->name) + ", ?1) > 0 OR " + QuoteIdent(c->name) + " LIKE 'fbenc1:%'"));
        st.Bind(1, sha);
        for (;;) {
          FB_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          const Value plain = OpenCell(&store, st.GetValue(0));
          const std::string* text = AsText(plain);
          if (!text || text->find(sha) != std::string::npos) {
            referenced = true;
            break;
          }
        }
        if (referenced) break;
      }
      if (referenced) break;
    }
    if (referenced) continue;
    FB_RETURN_IF_ERROR(drop.Bind(1, sha).Run());
    drop.Reset();
  }
  return Status::Ok();
}

}  // namespace fieldbook::sync
