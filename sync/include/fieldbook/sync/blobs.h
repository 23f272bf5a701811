// Blobs: attachments (visit photos, scanned ID copies, licenses, signed forms) stored
// outside the rows, named by the SHA-256 of their bytes (lower-case hex), referenced from
// blob-reference columns (Format::kBlobRefs), uploaded and downloaded in resumable
// chunks through the app's Transport. docs/blobs.md is the full description.
//
// On the device, fb_blobs holds each blob the profile has:
//   state 'upload'   put locally, not yet (wholly) on the server; `offset` bytes acknowledged
//   state 'stored'   on the server too (uploaded or downloaded); bytes complete and verified
//   state 'partial'  a download in progress; `data` holds the first `offset` bytes
//   state 'refused'  the server will not take it (too large, hash mismatch); `error` says why
// Invariants:
//  1. The bytes of an 'upload' or 'stored' blob hash to its sha256 (checked when put and
//     when downloaded, before the row is written).
//  2. In an encrypted profile `data` is sealed with the profile's cipher, like sensitive
//     cells; otherwise it is the raw bytes.
//  3. Pending uploads go before the rows that name them: SyncClient::Sync uploads them
//     before its first push.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fieldbook/core/schema_registry.h"
#include "fieldbook/core/status.h"
#include "fieldbook/core/store.h"

namespace fieldbook::sync {

class Transport;

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);
// The hashes a blob-reference cell names, in order and without duplicates; elements that
// name none are skipped (validation refuses them on write).
std::vector<std::string> BlobRefsIn(std::string_view json);
inline bool IsBlobColumn(const ColumnSpec& column) { return column.format == Format::kBlobRefs; }

// The device's blob tables (part of the sync component).
Status CreateBlobTables(Store& store);

// Stores bytes as a pending upload (again, when they are here already: the next sync
// makes sure the server has them) and returns their sha256.
Result<std::string> PutLocalBlob(Store& store, std::string_view bytes);
// A file's whole content, for putting it as a blob; kNotFound when it cannot be opened
// (`field` names the argument in the error).
Result<std::string> ReadFileBytes(const std::string& path, const std::string& field);
// Writes `bytes` to `path` through a temporary file renamed over it, so nobody sees half
// a blob there.
Status WriteFileBytes(const std::string& path, std::string_view bytes, const std::string& field);

// The complete bytes of a blob held locally (verified against the hash), or nullopt.
Result<std::optional<std::string>> GetLocalBlob(Store& store, const std::string& sha256);
// Hashes named by the blob-reference cells of every row under `root`.
Result<std::vector<std::string>> BlobsOfRoot(Store& store, const std::string& root);
// Removes those of `sha256s` that no row of the profile names any more.
Status DropUnreferencedBlobs(Store& store, const std::vector<std::string>& sha256s);

struct BlobTransferOptions {
  std::string token;
  size_t chunk_bytes = 1u << 20;
};

struct BlobUploadReport {
  int64_t uploaded = 0;    // blobs now complete on the server
  int64_t bytes_sent = 0;
  int64_t refused = 0;     // blobs the server will never take (see fb_blobs.error)
};

// Uploads every pending blob, resuming each at the offset the server holds. Network
// failures stop the upload (nothing lost, it resumes next time); a blob the server
// refuses for good is marked 'refused' and the others go on.
Result<BlobUploadReport> UploadPendingBlobs(Store& store, Transport& transport, const BlobTransferOptions& options);

// The bytes of a blob: from the profile if present, else downloaded (resuming a partial
// download), verified against the hash and kept. kNotFound when the server does not have
// it or the caller may not read it; kHashMismatch when the bytes do not hash to it.
Result<std::string> FetchBlob(Store& store, Transport& transport, const std::string& sha256,
                              const BlobTransferOptions& options);

}  // namespace fieldbook::sync
