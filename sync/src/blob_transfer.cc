// Blob uploads and downloads over the app's Transport (docs/blobs.md).
//
// Only status codes and JSON bodies are read, never response headers, so any transport
// an app supplies carries blobs too: an upload resumes at the offset the device last had
// acknowledged, and when the server holds a different one its 409 body names it; a
// download asks for one range at a time and ends at a short range (or a 416 past the end).
#include <algorithm>

#include "fieldbook/core/ids.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/client.h"
#include "fieldbook/sync/protocol.h"
#include "blob_store.h"
#include "http_refusal.h"

namespace fieldbook::sync {
namespace {

// Round trips one blob may take before the upload is abandoned for this sync (a server
// that keeps moving the offset would otherwise loop).
constexpr int kMaxStepsPerChunk = 4;

Status Unreachable(const Status& s) {
  return Status(s.code() == ErrorCode::kTimeout ? ErrorCode::kTimeout : ErrorCode::kUnreachable,
                "server unreachable: " + s.message() + "; nothing lost, blobs resume next time");
}

// The "offset" a blob reply or an offset_mismatch error names (-1 when none).
int64_t OffsetIn(const std::string& body) {
  auto doc = ParseJson(body, "reply");
  if (!doc.ok() || !doc->IsObject()) return -1;
  const rapidjson::Value* v = &*doc;
  if (v->HasMember("error") && (*v)["error"].IsObject()) v = &(*v)["error"];
  if (!v->HasMember("offset") || !(*v)["offset"].IsInt64()) return -1;
  return (*v)["offset"].GetInt64();
}

bool CompleteIn(const std::string& body) {
  auto doc = ParseJson(body, "reply");
  return doc.ok() && doc->IsObject() && doc->HasMember("complete") && (*doc)["complete"].IsBool() &&
         (*doc)["complete"].GetBool();
}

HttpRequest BlobRequest(const std::string& method, const std::string& sha256, const BlobTransferOptions& options) {
  HttpRequest r;
  r.method = method;
  r.path = "/v1/blobs/" + sha256;
  if (!options.token.empty()) r.headers.emplace_back("Authorization", "Bearer " + options.token);
  return r;
}

Status SetUploadState(Store& store, const std::string& sha256, const std::string& state, int64_t offset,
                      const std::string& error = {}) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "UPDATE fb_blobs SET state = ?2, offset = ?3, error = ?4 WHERE sha256 = ?1"));
  st.Bind(1, sha256).Bind(2, state).Bind(3, offset);
  if (error.empty()) st.BindNull(4);
  else st.Bind(4, error);
  return st.Run();
}

// Uploads one blob from `offset` (the last one the server acknowledged to us).
Status UploadOne(Store& store, Transport& transport, const std::string& sha256, int64_t offset,
                 const BlobTransferOptions& options, BlobUploadReport& report) {
  FB_ASSIGN_OR_RETURN(std::optional<std::string> bytes, GetLocalBlob(store, sha256));
  if (!bytes) return Status::Ok();
  const int64_t size = static_cast<int64_t>(bytes->size());
  const int64_t chunk = static_cast<int64_t>(std::max<size_t>(options.chunk_bytes, 1));
  offset = std::clamp<int64_t>(offset, 0, size);
  int steps = 0;
  const int max_steps = kMaxStepsPerChunk * static_cast<int>(size / chunk + 2);
  while (steps++ < max_steps) {
    // The last chunk is sent even when the device believes everything arrived: its
    // answer says whether the server now holds the whole blob.
    const int64_t start = offset >= size ? std::max<int64_t>(0, size - chunk) : offset;
    const int64_t len = std::min(chunk, size - start);
    HttpRequest put = BlobRequest("PUT", sha256, options);
    put.headers.emplace_back("Content-Type", "application/octet-stream");
    if (size > 0) {
      put.headers.emplace_back("Content-Range", "bytes " + std::to_string(start) + "-" +
                                                    std::to_string(start + len - 1) + "/" + std::to_string(size));
    }
    put.body = bytes->substr(static_cast<size_t>(start), static_cast<size_t>(len));
    auto sent = transport.Send(put);
    if (!sent.ok()) return Unreachable(sent.status());
    report.bytes_sent += len;
    if (sent->status == 200 || sent->status == 201) {
      if (CompleteIn(sent->body)) {
        ++report.uploaded;
        return SetUploadState(store, sha256, "stored", size);
      }
      const int64_t at = OffsetIn(sent->body);
      offset = at >= 0 ? at : start + len;
      FB_RETURN_IF_ERROR(SetUploadState(store, sha256, "upload", offset));
      continue;
    }
    if (sent->status == 409) {
      const int64_t at = OffsetIn(sent->body);
      if (at < 0 || at > size) return StatusFromHttp(*sent, "the upload of blob " + sha256);
      offset = at;
      FB_RETURN_IF_ERROR(SetUploadState(store, sha256, "upload", offset));
      continue;
    }
    if (sent->status == 413 || sent->status == 422 || sent->status == 400) {
      // Never accepted, however often it is sent: set aside so the other blobs and the
      // rows still sync. The reason stays with the blob.
      ++report.refused;
      return SetUploadState(store, sha256, "refused", 0, StatusFromHttp(*sent, "the upload").ToString());
    }
    return StatusFromHttp(*sent, "the upload of blob " + sha256);
  }
  return Status(ErrorCode::kServerError, "upload of blob " + sha256 + " made no progress");
}

Status SavePartial(Store& store, const std::string& sha256, const std::string& bytes, const std::string& state,
                   int64_t size) {
  FB_ASSIGN_OR_RETURN(std::string data, SealBytes(store, bytes));
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
      "INSERT INTO fb_blobs(sha256, size, data, state, offset, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT(sha256) DO UPDATE SET size = excluded.size, data = excluded.data, state = excluded.state, "
      "offset = excluded.offset, error = NULL"));
  BindStoredBytes(store, st, 3, data);
  return st.Bind(1, sha256).Bind(2, size).Bind(4, state).Bind(5, static_cast<int64_t>(bytes.size()))
      .Bind(6, store.env().NowMs()).Run();
}

Result<std::string> PartialDownload(Store& store, const std::string& sha256) {
  FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("SELECT data FROM fb_blobs WHERE sha256 = ?1 AND state = 'partial'"));
  st.Bind(1, sha256);
  FB_ASSIGN_OR_RETURN(bool found, st.Step());
  if (!found) return std::string();
  // A partial download that cannot be opened (no key) is started again.
  auto opened = OpenBytes(store, st.Text(0), sha256);
  return opened.ok() ? std::move(opened).value() : std::string();
}

}  // namespace

Result<BlobUploadReport> UploadPendingBlobs(Store& store, Transport& transport, const BlobTransferOptions& options) {
  BlobUploadReport report;
  std::vector<std::pair<std::string, int64_t>> pending;
  {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare(
        "SELECT sha256, offset FROM fb_blobs WHERE state = 'upload' ORDER BY created_ms, sha256"));
    for (;;) {
      FB_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      pending.emplace_back(st.String(0), st.Int(1));
    }
  }
  for (const auto& [sha, offset] : pending) {
    FB_RETURN_IF_ERROR(UploadOne(store, transport, sha, offset, options, report));
  }
  return report;
}

Result<std::string> FetchBlob(Store& store, Transport& transport, const std::string& sha256,
                              const BlobTransferOptions& options) {
  if (!IsSha256Hex(sha256)) {
    return Status(ErrorCode::kInvalidArgument, "not a blob hash (64 lower-case hex digits): " + sha256, "sha256");
  }
  auto local = GetLocalBlob(store, sha256);
  if (local.ok() && *local) return std::move(**local);
  if (!local.ok()) {
    if (local.status().code() != ErrorCode::kHashMismatch) return local.status();
    // A damaged copy of something the server holds is fetched again; the only copy of
    // an upload still pending cannot be.
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("DELETE FROM fb_blobs WHERE sha256 = ?1 AND state = 'stored'"));
    FB_RETURN_IF_ERROR(st.Bind(1, sha256).Run());
    if (store.changes() == 0) return local.status();
  }
  FB_ASSIGN_OR_RETURN(std::string bytes, PartialDownload(store, sha256));
  const size_t chunk = std::max<size_t>(options.chunk_bytes, 1);
  for (;;) {
    const size_t start = bytes.size();
    HttpRequest get = BlobRequest("GET", sha256, options);
    get.headers.emplace_back("Range", "bytes=" + std::to_string(start) + "-" + std::to_string(start + chunk - 1));
    auto got = transport.Send(get);
    if (!got.ok()) return Unreachable(got.status());
    if (got->status == 416 && start > 0) break;  // the content ended exactly at a chunk boundary
    if (got->status == 404) {
      return Status(ErrorCode::kNotFound, "the server has no blob " + sha256 + " that you may read");
    }
    if (got->status == 200) {  // the whole content, range ignored
      bytes = std::move(got->body);
      break;
    }
    if (got->status != 206) return StatusFromHttp(*got, "the download of blob " + sha256);
    const bool last = got->body.size() < chunk;
    bytes += got->body;
    if (last) break;
    FB_RETURN_IF_ERROR(SavePartial(store, sha256, bytes, "partial", 0));
  }
  if (Sha256Hex(bytes) != sha256) {
    FB_ASSIGN_OR_RETURN(Statement st, store.Prepare("DELETE FROM fb_blobs WHERE sha256 = ?1 AND state = 'partial'"));
    FB_RETURN_IF_ERROR(st.Bind(1, sha256).Run());
    return Status(ErrorCode::kHashMismatch, "the bytes received for blob " + sha256 + " hash to " + Sha256Hex(bytes) +
                                                "; discarded");
  }
  FB_RETURN_IF_ERROR(SavePartial(store, sha256, bytes, "stored", static_cast<int64_t>(bytes.size())));
  return bytes;
}

}  // namespace fieldbook::sync
