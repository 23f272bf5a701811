// Api: the blob routes (PUT/GET/HEAD /v1/blobs/{sha256}) and blob garbage collection.
// docs/blobs.md is the contract; the guarantees kept here:
//  1. Chunks are appended only at the stored offset; anything else is 409 offset_mismatch
//     naming the offset, so a client resumes exactly where the server is.
//  2. A blob becomes readable only once every byte arrived and the whole content hashed to
//     its address; a mismatch discards the upload (422 hash_mismatch). A declared size
//     over the limit is refused before anything is stored (413).
//  3. Nothing crosses tenants; a blob is readable by the agents who uploaded it and by
//     whoever may see a row naming it, and to anyone else it does not exist (404).
//  4. Each upload step runs in the tenant's write transaction, serialised with the syncs
//     that maintain the reference index, so the GC's re-check cannot race a new reference.
#include <openssl/evp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <tuple>

#include "api_internal.h"
#include "fieldbook/core/ids.h"
#include "fieldbook/server/minimization.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/protocol.h"
#include "service_internal.h"

namespace fieldbook::server {
namespace {

// Reading a blob for hashing or serving is done in pieces of this size.
constexpr int64_t kReadPiece = 4 << 20;
// Blobs the GC looks at per pass.
constexpr int kGcBatch = 500;

std::string HeaderOf(const ApiRequest& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? std::string() : it->second;
}

ApiReply JsonReply(int status, std::string body) {
  ApiReply reply;
  reply.status = status;
  reply.body = std::move(body);
  return reply;
}

// A whole non-negative decimal number, or -1.
int64_t ParseCount(std::string_view text) {
  if (text.empty() || text.size() > 18) return -1;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

struct ContentRange {
  int64_t start = 0, end = -1, total = 0;  // end inclusive
};

// "bytes START-END/TOTAL".
std::optional<ContentRange> ParseContentRange(const std::string& text) {
  if (text.rfind("bytes ", 0) != 0) return std::nullopt;
  const std::string rest = text.substr(6);
  const size_t dash = rest.find('-'), slash = rest.find('/');
  if (dash == std::string::npos || slash == std::string::npos || dash > slash) return std::nullopt;
  ContentRange r{ParseCount(rest.substr(0, dash)), ParseCount(rest.substr(dash + 1, slash - dash - 1)),
                 ParseCount(rest.substr(slash + 1))};
  if (r.start < 0 || r.end < r.start || r.total <= r.end) return std::nullopt;
  return r;
}

// What a Range header asks of `size` bytes (RFC 9110 section 14): one byte range
// [first, last]; nothing to honour (another unit, several ranges, which we do not
// serve as multipart, or a syntactically invalid range: the header is ignored and the
// whole blob sent); or a valid range that lies outside the content (416).
struct RangeRequest {
  enum class Kind { kIgnore, kUnsatisfiable, kRange } kind = Kind::kIgnore;
  int64_t first = 0, last = 0;
};

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

RangeRequest ParseRange(const std::string& text, int64_t size) {
  RangeRequest r;
  if (text.rfind("bytes=", 0) != 0 || text.find(',') != std::string::npos) return r;
  const std::string spec = text.substr(6);
  const size_t dash = spec.find('-');
  if (dash == std::string::npos) return r;
  const std::string a = spec.substr(0, dash), b = spec.substr(dash + 1);
  if (a.empty()) {  // the last N bytes
    if (!AllDigits(b)) return r;
    const int64_t n = ParseCount(b);  // -1: more digits than any blob has bytes
    if (n == 0 || size == 0) return RangeRequest{RangeRequest::Kind::kUnsatisfiable};
    return RangeRequest{RangeRequest::Kind::kRange, n < 0 ? 0 : std::max<int64_t>(0, size - n), size - 1};
  }
  if (!AllDigits(a) || (!b.empty() && !AllDigits(b))) return r;
  const int64_t first = ParseCount(a);
  const int64_t last = b.empty() ? -1 : ParseCount(b);  // -1 also for a number past any size
  if (first >= 0 && !b.empty() && last >= 0 && last < first) return r;  // invalid: ignored
  if (first < 0 || first >= size) return RangeRequest{RangeRequest::Kind::kUnsatisfiable};
  return RangeRequest{RangeRequest::Kind::kRange, first, last < 0 ? size - 1 : std::min(last, size - 1)};
}

std::string BlobJson(const BlobInfo& b) {
  return "{\"sha256\":\"" + b.sha256 + "\",\"size\":" + std::to_string(b.size) + ",\"offset\":" +
         std::to_string(b.received) + ",\"complete\":" + (b.complete ? "true" : "false") + "}";
}

Result<std::string> HashOfStored(ServerSession& session, const std::string& tenant, const BlobInfo& b) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status(ErrorCode::kInternal, "cannot start a SHA-256");
  }
  for (int64_t at = 0; at < b.size; at += kReadPiece) {
    FB_ASSIGN_OR_RETURN(std::string piece, session.ReadBlob(tenant, b.sha256, at, std::min(kReadPiece, b.size - at)));
    EVP_DigestUpdate(ctx.get(), piece.data(), piece.size());
  }
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx.get(), d, &n);
  return HexEncode(d, n);
}

// True when a column of `row` that a caller without sensitive data receives names the
// blob (minimization.h): a scanned ID copy in a withheld column is no more readable than
// the ID number.
bool NamedInReceivedColumn(const std::vector<const TableSpec*>& tables, const StoredRow& row,
                           const std::string& sha256) {
  const TableSpec* t = FindTable(tables, row.table);
  if (!t) return false;
  for (const ColumnSpec& col : t->columns) {
    if (!sync::IsBlobColumn(col) || IsWithheldColumn(col)) continue;
    const std::vector<std::string> refs = BlobRefsOfCell(row, col);
    if (std::find(refs.begin(), refs.end(), sha256) != refs.end()) return true;
  }
  return false;
}

// Whether the caller may read the blob (guarantee 3).
Result<bool> MayRead(ServerSession& session, const Principal& who, const std::string& sha256,
                     const std::vector<const TableSpec*>& tables) {
  if (who.role == Role::kAdmin) return true;
  FB_ASSIGN_OR_RETURN(bool granted, session.BlobGranted(who.tenant, sha256, who.agent));
  if (granted) return true;
  FB_ASSIGN_OR_RETURN(auto referrers, session.BlobReferrers(who.tenant, sha256));
  const Scope scope = who.scope();
  for (const auto& [table, id] : referrers) {
    FB_ASSIGN_OR_RETURN(std::optional<StoredRow> row, session.GetRow(who.tenant, table, id));
    if (!row || row->deleted) continue;
    FB_ASSIGN_OR_RETURN(std::optional<RootInfo> root, session.GetRoot(who.tenant, row->root_id));
    if (!root || !scope.Covers(*root)) continue;
    if (SeesSensitive(scope, *root) || NamedInReceivedColumn(tables, *row, sha256)) return true;
  }
  return false;
}

}  // namespace

ApiReply Api::Blob(const ApiRequest& request, const std::string& sha256) {
  if (!IsSha256Hex(sha256)) {
    return Error(Status(ErrorCode::kInvalidField, "a blob is named by 64 lower-case hex digits (its SHA-256)", "sha256"));
  }
  auto leased = Acquire();
  if (!leased.ok()) return Error(leased.status());
  SessionLease session(*this, std::move(leased).value());
  auto who = Authenticate(request, *session);
  if (!who.ok()) return Error(who.status());
  if (request.method == "PUT") return PutBlob(request, *session, *who, sha256);
  return GetBlob(request, *session, *who, sha256);
}

ApiReply Api::PutBlob(const ApiRequest& request, ServerSession& session, const Principal& who,
                      const std::string& sha256) {
  if (shutting_down_) return Error(Status(ErrorCode::kBusy, "server is shutting down; retry shortly"));
  const std::string range_text = HeaderOf(request, "content-range");
  ContentRange range{0, static_cast<int64_t>(request.body.size()) - 1, static_cast<int64_t>(request.body.size())};
  if (!range_text.empty()) {
    auto parsed = ParseContentRange(range_text);
    if (!parsed) {
      return Error(Status(ErrorCode::kMalformedRequest, "Content-Range must be \"bytes START-END/TOTAL\"",
                          "content-range"));
    }
    range = *parsed;
    if (range.end - range.start + 1 != static_cast<int64_t>(request.body.size())) {
      return Error(Status(ErrorCode::kMalformedRequest,
                          "Content-Range names " + std::to_string(range.end - range.start + 1) + " bytes, the body has " +
                              std::to_string(request.body.size()),
                          "content-range"));
    }
  }
  if (range.total > config_.max_blob_bytes) {
    return Error(Status(ErrorCode::kPayloadTooLarge, "a blob of " + std::to_string(range.total) +
                                                         " bytes exceeds the limit of " +
                                                         std::to_string(config_.max_blob_bytes) + " bytes"));
  }
  const std::string& tenant = who.tenant;
  const int64_t now = env_.NowMs();
  auto step = [&]() -> Result<ApiReply> {
    FB_RETURN_IF_ERROR(session.BeginWrite(tenant));
    FB_RETURN_IF_ERROR(session.GrantBlob(tenant, sha256, who.agent));
    FB_ASSIGN_OR_RETURN(std::optional<BlobInfo> stored, session.GetBlob(tenant, sha256));
    if (stored && stored->complete) {  // idempotent: the content is already here
      FB_RETURN_IF_ERROR(session.Commit());
      return JsonReply(200, BlobJson(*stored));
    }
    if (stored && stored->size != range.total && range.start == 0) {
      // A fresh start with another length: the earlier attempt cannot be continued.
      FB_RETURN_IF_ERROR(session.DeleteBlob(tenant, sha256));
      FB_RETURN_IF_ERROR(session.GrantBlob(tenant, sha256, who.agent));
      stored.reset();
    }
    BlobInfo b = stored.value_or(BlobInfo{sha256, range.total, 0, false, now, now});
    if (range.start != b.received || range.total != b.size) {
      session.Rollback();
      Status s(ErrorCode::kOffsetMismatch, "the server holds " + std::to_string(b.received) + " of " +
                                               std::to_string(b.size) + " bytes; send the chunk starting there");
      ApiReply reply = Error(s, b.received);
      reply.headers.emplace_back("Upload-Offset", std::to_string(b.received));
      return reply;
    }
    if (!request.body.empty()) FB_RETURN_IF_ERROR(session.PutBlobChunk(tenant, sha256, range.start, request.body));
    b.received += static_cast<int64_t>(request.body.size());
    b.touched_ms = now;
    if (b.received == b.size) {
      FB_ASSIGN_OR_RETURN(std::string actual, HashOfStored(session, tenant, b));
      if (actual != sha256) {
        FB_RETURN_IF_ERROR(session.DeleteBlob(tenant, sha256));
        FB_RETURN_IF_ERROR(session.Commit());
        return Error(Status(ErrorCode::kHashMismatch,
                            "the uploaded bytes hash to " + actual + ", not to the blob's name; the upload was discarded"));
      }
      b.complete = true;
    }
    FB_RETURN_IF_ERROR(session.PutBlob(tenant, b));
    FB_RETURN_IF_ERROR(session.Commit());
    metrics_.blob_bytes_received += static_cast<int64_t>(request.body.size());
    ApiReply reply = JsonReply(200, BlobJson(b));
    reply.headers.emplace_back("Upload-Offset", std::to_string(b.received));
    return reply;
  };
  auto reply = step();
  if (!reply.ok()) {
    session.Rollback();
    return Error(reply.status());
  }
  return std::move(reply).value();
}

ApiReply Api::GetBlob(const ApiRequest& request, ServerSession& session, const Principal& who,
                      const std::string& sha256) {
  const Status absent(ErrorCode::kNotFound, "no such blob");
  auto run = [&]() -> Result<ApiReply> {
    FB_RETURN_IF_ERROR(session.BeginRead());
    FB_ASSIGN_OR_RETURN(std::optional<BlobInfo> b, session.GetBlob(who.tenant, sha256));
    if (!b) return Error(absent);
    FB_ASSIGN_OR_RETURN(bool may, MayRead(session, who, sha256, service_.config().tables));
    if (!may) return Error(absent);
    if (request.method == "HEAD") {
      // Upload state for resuming clients, also while incomplete.
      ApiReply reply;
      reply.status = 200;
      reply.content_type = "application/octet-stream";
      reply.headers.emplace_back("Upload-Offset", std::to_string(b->received));
      reply.headers.emplace_back("Upload-Length", std::to_string(b->size));
      reply.headers.emplace_back("Upload-Complete", b->complete ? "true" : "false");
      return reply;
    }
    if (!b->complete) return Error(absent);
    int64_t first = 0, last = b->size - 1;
    const std::string range = HeaderOf(request, "range");
    ApiReply reply;
    reply.status = 200;
    const RangeRequest r = range.empty() ? RangeRequest{} : ParseRange(range, b->size);
    if (r.kind != RangeRequest::Kind::kIgnore) {
      if (r.kind == RangeRequest::Kind::kUnsatisfiable) {
        ApiReply refused = Error(Status(ErrorCode::kRangeNotSatisfiable,
                                        "the blob has " + std::to_string(b->size) + " bytes; " + range + " is outside them",
                                        "range"));
        refused.headers.emplace_back("Content-Range", "bytes */" + std::to_string(b->size));
        return refused;
      }
      first = r.first;
      last = r.last;
      reply.status = 206;
      reply.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                                      std::to_string(b->size));
    }
    FB_ASSIGN_OR_RETURN(reply.body, session.ReadBlob(who.tenant, sha256, first, last - first + 1));
    if (static_cast<int64_t>(reply.body.size()) != last - first + 1) return Error(absent);  // collected meanwhile
    reply.content_type = "application/octet-stream";
    reply.headers.emplace_back("Accept-Ranges", "bytes");
    reply.headers.emplace_back("ETag", "\"" + sha256 + "\"");
    metrics_.blob_bytes_sent += static_cast<int64_t>(reply.body.size());
    return reply;
  };
  auto reply = run();
  session.Rollback();  // read-only
  if (!reply.ok()) return Error(reply.status());
  return std::move(reply).value();
}

Result<Api::BlobGcReport> Api::CollectBlobs(const std::string& tenant) {
  FB_ASSIGN_OR_RETURN(std::unique_ptr<ServerSession> leased, Acquire());
  SessionLease session(*this, std::move(leased));
  BlobGcReport report;
  const int64_t cutoff = env_.NowMs() - config_.blob_grace_ms;
  for (;;) {
    FB_ASSIGN_OR_RETURN(std::vector<StaleBlob> stale, session->StaleBlobs(tenant, cutoff, kGcBatch));
    int64_t deleted = 0;
    for (const StaleBlob& s : stale) {
      // Checked again inside the tenant's write: a sync may have referred to it since.
      FB_RETURN_IF_ERROR(session->BeginWrite(s.tenant));
      auto collect = [&]() -> Result<bool> {
        FB_ASSIGN_OR_RETURN(std::optional<BlobInfo> b, session->GetBlob(s.tenant, s.sha256));
        if (!b || b->touched_ms >= cutoff) return false;
        if (b->complete) {
          FB_ASSIGN_OR_RETURN(auto referrers, session->BlobReferrers(s.tenant, s.sha256));
          if (!referrers.empty()) return false;
        }
        FB_RETURN_IF_ERROR(session->DeleteBlob(s.tenant, s.sha256));
        (b->complete ? report.complete : report.partial) += 1;
        report.bytes += b->received;
        return true;
      };
      auto done = collect();
      if (!done.ok()) {
        session->Rollback();
        return done.status();
      }
      FB_RETURN_IF_ERROR(session->Commit());
      deleted += *done ? 1 : 0;
    }
    if (static_cast<int>(stale.size()) < kGcBatch || deleted == 0) break;
  }
  metrics_.blobs_collected += report.complete + report.partial;
  return report;
}

}  // namespace fieldbook::server
