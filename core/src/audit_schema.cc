// The access audit table: one row per read or export of personal data. Every column is
// immutable, so a row once written never changes on any device or on the server; a local
// guard refuses deletes outside sync.
#include "fieldbook/core/audit.h"

namespace fieldbook {

std::vector<TableSpec> AuditTables() {
  constexpr auto kOnce = MergePolicy::kImmutable;
  TableBuilder b(std::string(kAccessAuditTable), OwnedBy("agent", "team"));
  b.Since(2)
      .Text("agent").Required().Merge(kOnce).MaxLength(128)
      .Text("team").Merge(kOnce).MaxLength(128)
      .Int("at", Format::kTimestamp).Required().Merge(kOnce)
      .Enum("action", {"read", "list", "search", "export"}).Required().Merge(kOnce)
      .Text("target").Required().Merge(kOnce).MaxLength(64)  // table name, or "all" for an export
      .Text("row_ids", Format::kJsonArray).Merge(kOnce).MaxLength(40000)  // ids only, at most kMaxAuditIds
      .Int("row_count", Format::kCount).Required().Merge(kOnce)
      .Enum("purpose", {"service", "sales", "claim", "complaint", "review", "analytics", "backup", "compliance",
                        "transfer", "other"}).Required().Merge(kOnce)
      .Enum("channel", {"cli", "api"}).Required().Merge(kOnce);
  return {std::move(b).Build()};
}

std::vector<SchemaStep> AuditSchemaSteps() {
  return {
      {2, "CREATE INDEX IF NOT EXISTS fb_ix_access_audit_at ON access_audit(at)"},
      // Append-only on the device: a delete is refused unless the sync engine applies it.
      {2,
       "CREATE TRIGGER IF NOT EXISTS fb_access_audit_keep BEFORE DELETE ON access_audit "
       "WHEN coalesce((SELECT applying FROM fb_sync_state), 0) = 0 BEGIN "
       "SELECT RAISE(ABORT, 'fieldbook: access_audit rows cannot be deleted'); END"},
  };
}

}  // namespace fieldbook
