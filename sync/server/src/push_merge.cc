// SyncService: applying a pushed batch, merging every cell by its column's policy.
//
// Concurrency is decided per cell: the pushed write had not seen the stored one when the
// stored value was written after the cursor the device had pulled when it first changed
// the cell (stored.wseq > pushed.seen) by another device. Only then can a write lose
// something the writer never saw, and only then is a conflict recorded.
#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <openssl/sha.h>

#include "fieldbook/core/ids.h"
#include "fieldbook/core/json.h"
#include "fieldbook/sync/blobs.h"
#include "fieldbook/sync/change_capture.h"
#include "fieldbook/sync/erasure.h"
#include "fieldbook/sync/text_merge.h"
#include "fieldbook/server/minimization.h"
#include "service_internal.h"

namespace fieldbook::server {
namespace {

using sync::PushCell;
using sync::PushChange;

std::string DeterministicId(const std::string& text) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
  d[6] = static_cast<unsigned char>(0x80 | (d[6] & 0x0f));  // RFC 9562 version 8 (custom)
  d[8] = static_cast<unsigned char>(0x80 | (d[8] & 0x3f));
  const std::string h = HexEncode(d, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

// Orders values for the `max` policy: null < numbers < text.
int CompareValues(const Value& a, const Value& b) {
  auto rank = [](const Value& v) { return IsNull(v) ? 0 : std::holds_alternative<std::string>(v) ? 2 : 1; };
  if (rank(a) != rank(b)) return rank(a) < rank(b) ? -1 : 1;
  if (IsNull(a)) return 0;
  if (const auto* s = AsText(a)) return s->compare(*AsText(b)) < 0 ? -1 : (*s == *AsText(b) ? 0 : 1);
  const double x = AsInt(a) ? static_cast<double>(*AsInt(a)) : std::get<double>(a);
  const double y = AsInt(b) ? static_cast<double>(*AsInt(b)) : std::get<double>(b);
  return x < y ? -1 : (x > y ? 1 : 0);
}

struct Side {
  Value value;
  Hlc hlc = 0;
  std::string site;
};

class PushApplier {
 public:
  PushApplier(ServerSession& s, const Principal& who, const sync::SyncRequest& req, const ServiceConfig& cfg,
              Env& env)
      : s_(s), who_(who), req_(req), cfg_(cfg), env_(env), now_(env.NowMs()), tenant_(who.tenant) {}

  Status Run() {
    FB_RETURN_IF_ERROR(PrefetchBatch());
    for (size_t i = 0; i < req_.changes.size(); ++i) {
      const std::string where = "changes[" + std::to_string(i) + "]";
      Status st = Apply(req_.changes[i], where);
      if (!st.ok()) return st.field().empty() || st.field().rfind("changes[", 0) == 0 ? st : st.WithFieldPrefix(where);
    }
    return Status::Ok();
  }

  int64_t applied = 0;
  int64_t conflicts = 0;

 private:
  // Every row the batch names and the roots and parents its cells point at.
  Status PrefetchBatch() {
    if (!s_.Prefetches()) return Status::Ok();
    std::vector<std::pair<std::string, std::string>> rows;
    std::vector<std::string> roots;
    for (const PushChange& c : req_.changes) {
      rows.emplace_back(c.table, c.id);
      roots.push_back(c.id);
      const TableSpec* t = Table(c.table);
      if (!t) continue;
      for (const PushCell& cell : c.cells) {
        const std::string* text = AsText(cell.value);
        if (!text) continue;
        if (cell.column == t->partition.root_column) {
          roots.push_back(*text);
          if (!t->partition.root_table.empty()) rows.emplace_back(t->partition.root_table, *text);
        }
        if (const ColumnSpec* col = t->Find(cell.column); col && !col->references.empty()) {
          rows.emplace_back(col->references, *text);
        }
      }
    }
    return s_.Prefetch(tenant_, rows, roots);
  }

  const TableSpec* Table(const std::string& name) const { return FindTable(cfg_.tables, name); }

  Status Validate(const PushChange& c, const TableSpec& t) {
    const bool conflicts_table = t.name == sync::ConflictsTable().name;
    if (conflicts_table && c.op != PushChange::Op::kUpdate) {
      return Status(ErrorCode::kServerOnlyColumn, "conflict records are created and deleted by the server only", "op");
    }
    const int64_t limit_ms = now_ + cfg_.max_skew_ms;
    auto check_clock = [&](Hlc h, const std::string& field) -> Status {
      if (sync::HlcMs(h) > limit_ms) {
        return Status(ErrorCode::kClockSkew,
                      "stamped " + std::to_string(sync::HlcMs(h) - now_) + " ms in the future (limit " +
                          std::to_string(cfg_.max_skew_ms) + " ms); correct the device clock and resend",
                      field);
      }
      return Status::Ok();
    };
    FB_RETURN_IF_ERROR(check_clock(c.hlc, "h"));
    // Each column's cell by column index: a column given twice is refused, and a creation's
    // required columns are looked up without scanning the cells.
    std::vector<const PushCell*> given(t.columns.size(), nullptr);
    for (const PushCell& cell : c.cells) {
      auto field = [&cell] { return "c." + cell.column; };
      const ColumnSpec* col = t.Find(cell.column);
      if (!col) return Status(ErrorCode::kUnknownColumn, "no column " + cell.column + " in " + t.name, field());
      const PushCell*& slot = given[static_cast<size_t>(col - t.columns.data())];
      if (slot) return Status(ErrorCode::kMalformedRequest, "column given twice", field());
      slot = &cell;
      if (col->merge == MergePolicy::kServerOnly) {
        return Status(ErrorCode::kServerOnlyColumn, t.name + "." + cell.column + " is written by the server only", field());
      }
      if (sync::HlcMs(cell.hlc) > limit_ms) FB_RETURN_IF_ERROR(check_clock(cell.hlc, field()));
      if (IsNull(cell.value)) continue;
      const bool ok_type = (col->type == SqlType::kText && AsText(cell.value)) ||
                           (col->type == SqlType::kInteger && AsInt(cell.value)) ||
                           (col->type == SqlType::kReal && !AsText(cell.value));
      if (!ok_type) {
        return Status(ErrorCode::kMalformedRequest, "wrong type for a " + std::string(SqlTypeName(col->type)) + " column", field());
      }
      if (const std::string* text = AsText(cell.value)) {
        if (text->size() > col->max_length) {
          return Status(ErrorCode::kInvalidField, "longer than " + std::to_string(col->max_length) + " bytes", field());
        }
        if (col->format == Format::kEnum &&
            std::find(col->enum_values.begin(), col->enum_values.end(), *text) == col->enum_values.end()) {
          return Status(ErrorCode::kInvalidField, "not an allowed value", field());
        }
      }
    }
    if (c.op == PushChange::Op::kCreate) {
      for (size_t i = 0; i < t.columns.size(); ++i) {
        const ColumnSpec& col = t.columns[i];
        if (!col.required || col.merge == MergePolicy::kServerOnly) continue;
        if (!given[i] || IsNull(given[i]->value)) {
          return Status(ErrorCode::kMissingField, "required when creating a " + t.name + " row", "c." + col.name);
        }
      }
    }
    return Status::Ok();
  }

  static const PushCell* CellOf(const PushChange& c, const std::string& column) {
    for (const auto& cell : c.cells) {
      if (cell.column == column) return &cell;
    }
    return nullptr;
  }
  static std::string TextOf(const PushChange& c, const std::string& column) {
    const PushCell* cell = CellOf(c, column);
    return cell && AsText(cell->value) ? *AsText(cell->value) : std::string();
  }

  bool MayCreateRoot(const TableSpec& t, const RootInfo& info) const {
    switch (t.partition.kind) {
      case PartitionKind::kTenant: return who_.role == Role::kAdmin;
      case PartitionKind::kTeam: return who_.role == Role::kAdmin || (who_.role == Role::kLead && info.team == who_.team);
      default: break;
    }
    switch (who_.role) {
      case Role::kAdmin: return true;
      case Role::kLead: return info.team == who_.team;
      case Role::kAgent: return info.owner == who_.agent && (info.team.empty() || info.team == who_.team);
    }
    return false;
  }

  bool MayWrite(const TableSpec& t, const RootInfo& info) const {
    if (t.partition.kind == PartitionKind::kTenant) return who_.role == Role::kAdmin;
    if (t.partition.kind == PartitionKind::kTeam && who_.role == Role::kAgent) return false;
    return who_.scope().Covers(info);
  }

  std::string ObjectJson(const std::vector<std::pair<std::string, Value>>& cells) {
    std::string out = "{";
    for (const auto& [col, v] : cells) {
      if (out.size() > 1) out += ",";
      out += ValueJson(Value{col}) + ":" + ValueJson(v);
    }
    return out + "}";
  }
  std::string IncomingJson(const PushChange& c) {
    std::vector<std::pair<std::string, Value>> cells;
    for (const auto& cell : c.cells) cells.emplace_back(cell.column, cell.value);
    return ObjectJson(cells);
  }
  std::string StoredJson(const StoredRow& row) {
    std::vector<std::pair<std::string, Value>> cells;
    for (const auto& [col, cell] : row.cells) cells.emplace_back(col, cell.value);
    return ObjectJson(cells);
  }

  Result<std::string> AgentOfSite(const std::string& site) {
    if (site == req_.site) return who_.agent;
    FB_ASSIGN_OR_RETURN(std::optional<DeviceInfo> device, s_.GetDevice(tenant_, site));
    return device ? device->agent : std::string();
  }

  // A row of the synced conflicts table; the same loss recorded twice stays one record.
  Status RecordConflict(const std::string& root, const std::string& table, const std::string& row_id,
                        const std::string& column, const char* kind, const Side& winner, const Side& loser,
                        bool values_are_json = false) {
    const std::string id = DeterministicId(tenant_ + "\n" + table + "\n" + row_id + "\n" + column + "\n" +
                                           std::to_string(loser.hlc) + "\n" + loser.site + "\n" + kind);
    FB_ASSIGN_OR_RETURN(std::optional<StoredRow> existing, s_.GetRow(tenant_, sync::ConflictsTable().name, id));
    if (existing) return Status::Ok();
    FB_ASSIGN_OR_RETURN(std::string loser_agent, AgentOfSite(loser.site));
    FB_ASSIGN_OR_RETURN(int64_t seq, s_.NextSeq(tenant_));
    FB_ASSIGN_OR_RETURN(Hlc hlc, s_.TickHlc(now_));
    auto json = [&](const Value& v) -> Value {
      if (values_are_json && AsText(v)) return v;
      return Value{ValueJson(v)};
    };
    StoredRow row;
    row.table = sync::ConflictsTable().name;
    row.id = id;
    row.root_id = root;
    row.seq = seq;
    auto put = [&](const char* col, Value v) { row.cells[col] = StoredCell{std::move(v), hlc, kServerSite, seq}; };
    put("root_id", Value{root});
    put("tbl", Value{table});
    put("row_id", Value{row_id});
    put("col", column.empty() ? Value{} : Value{column});
    put("kind", Value{std::string(kind)});
    put("winner_value", json(winner.value));
    put("winner_hlc", Value{winner.hlc});
    put("winner_site", Value{winner.site});
    put("loser_value", json(loser.value));
    put("loser_hlc", Value{loser.hlc});
    put("loser_site", Value{loser.site});
    put("loser_agent", loser_agent.empty() ? Value{} : Value{loser_agent});
    put("detected_at", Value{now_});
    put("resolved", Value{int64_t{0}});
    FB_RETURN_IF_ERROR(s_.PutRow(tenant_, row));
    ++conflicts;
    return Status::Ok();
  }

  // Keeps the blob reference index in step with the row's blob-reference cells (none
  // once it is deleted), so access checks and the GC need not parse rows. A row stored
  // for the first time (`fresh`) has no references indexed yet.
  Status IndexBlobRefs(const StoredRow& row, bool fresh = false) {
    const TableSpec* t = Table(row.table);
    if (!t) return Status::Ok();
    for (const ColumnSpec& col : t->columns) {
      if (!sync::IsBlobColumn(col)) continue;
      const std::vector<std::string> refs = row.deleted ? std::vector<std::string>() : BlobRefsOfCell(row, col);
      if (fresh && refs.empty()) continue;
      FB_RETURN_IF_ERROR(s_.SetBlobRefs(tenant_, row.table, row.id, col.name, refs));
    }
    return Status::Ok();
  }

  // Re-sends a row unchanged so the device that just lost against it receives it.
  Status Resend(StoredRow& row) {
    FB_ASSIGN_OR_RETURN(row.seq, s_.NextSeq(tenant_));
    row.echo_site.clear();
    return s_.PutRow(tenant_, row);
  }

  Status Tombstone(StoredRow& row, Hlc hlc, const std::string& site, int64_t seen, bool by_pusher) {
    // Edits this deletion had not seen are kept as a conflict record (the whole row, so a
    // wrong delete can be undone).
    const StoredCell* newest = nullptr;
    for (const auto& [col, cell] : row.cells) {
      if (cell.wseq > seen && cell.site != req_.site && (!newest || cell.hlc > newest->hlc)) newest = &cell;
    }
    if (newest && row.table != sync::ConflictsTable().name) {
      FB_RETURN_IF_ERROR(RecordConflict(row.root_id, row.table, row.id, "", "delete_update", Side{Value{}, hlc, site},
                                        Side{Value{StoredJson(row)}, newest->hlc, newest->site}, true));
    }
    row.deleted = true;
    row.deleted_hlc = hlc;
    row.deleted_site = site;
    row.cells.clear();
    FB_ASSIGN_OR_RETURN(row.seq, s_.NextSeq(tenant_));
    row.echo_site = by_pusher && !newest ? req_.site : std::string();
    FB_RETURN_IF_ERROR(s_.PutRow(tenant_, row));
    FB_RETURN_IF_ERROR(IndexBlobRefs(row));
    // Children go with their parent; conflict records stay so the deletion can be reviewed.
    std::vector<std::pair<std::string, std::string>> children;
    const TableSpec* t = Table(row.table);
    if (t && t->partition.kind == PartitionKind::kSelf) {
      FB_ASSIGN_OR_RETURN(children, s_.RowsOfRoot(tenant_, row.id));
    }
    FB_ASSIGN_OR_RETURN(auto refs, s_.Referencing(tenant_, row.id));
    children.insert(children.end(), refs.begin(), refs.end());
    for (const auto& [table, id] : children) {
      if (table == sync::ConflictsTable().name || (table == row.table && id == row.id)) continue;
      FB_ASSIGN_OR_RETURN(std::optional<StoredRow> child, s_.GetRow(tenant_, table, id));
      if (child && !child->deleted) FB_RETURN_IF_ERROR(Tombstone(*child, hlc, site, seen, false));
    }
    return Status::Ok();
  }

  // True when the root was erased: every later write to it is discarded unrecorded.
  Result<bool> Erased(const std::string& root) {
    auto known = erased_.find(root);
    if (known != erased_.end()) return known->second;
    FB_ASSIGN_OR_RETURN(std::optional<StoredRow> erasure, s_.GetRow(tenant_, sync::ErasuresTable().name, root));
    erased_[root] = erasure.has_value();
    return erasure.has_value();
  }

  // Wipes every row of an erased root except its erasure record: tombstones without
  // values, re-sent so every device in scope wipes its copy. Conflict records of the
  // root go too.
  Status EraseStoredRoot(const std::string& root, Hlc hlc) {
    erased_[root] = true;
    FB_ASSIGN_OR_RETURN(auto rows, s_.RowsOfRoot(tenant_, root));
    std::vector<std::string> blobs;  // named by the erased rows
    for (const auto& [table, id] : rows) {
      if (table == sync::ErasuresTable().name) continue;
      FB_ASSIGN_OR_RETURN(std::optional<StoredRow> row, s_.GetRow(tenant_, table, id));
      if (!row || (row->deleted && row->cells.empty())) continue;
      if (const TableSpec* t = Table(table)) {
        for (const ColumnSpec& col : t->columns) {
          if (!sync::IsBlobColumn(col)) continue;
          for (auto& h : BlobRefsOfCell(*row, col)) blobs.push_back(std::move(h));
        }
      }
      if (!row->deleted) {
        row->deleted = true;
        row->deleted_hlc = hlc;
        row->deleted_site = req_.site;
      }
      row->cells.clear();
      FB_ASSIGN_OR_RETURN(row->seq, s_.NextSeq(tenant_));
      row->echo_site.clear();
      FB_RETURN_IF_ERROR(s_.PutRow(tenant_, *row));
      FB_RETURN_IF_ERROR(IndexBlobRefs(*row));
    }
    // Blobs no other row names are erased at once, not after the GC's grace period.
    for (const auto& sha : blobs) {
      FB_ASSIGN_OR_RETURN(auto referrers, s_.BlobReferrers(tenant_, sha));
      if (referrers.empty()) FB_RETURN_IF_ERROR(s_.DeleteBlob(tenant_, sha));
    }
    return Status::Ok();
  }

  // True when the root once left this caller's scope: the caller's devices held it. The
  // root's moves are read once per batch, however many writes fall under it.
  Result<bool> MovedAway(const std::string& root) {
    auto known = moved_away_.find(root);
    if (known != moved_away_.end()) return known->second;
    FB_ASSIGN_OR_RETURN(std::vector<ScopeChange> moves, s_.ScopeChangesOf(tenant_, root));
    const Scope scope = who_.scope();
    const bool moved = std::any_of(moves.begin(), moves.end(), [&](const ScopeChange& m) {
      return m.root_id == root && scope.Covers(m.before) && !scope.Covers(m.after);
    });
    moved_away_[root] = moved;
    return moved;
  }

  Status Apply(const PushChange& c, const std::string& where) {
    const TableSpec* t = Table(c.table);
    if (!t) return Status(ErrorCode::kUnknownTable, "no synced table named " + c.table, where + ".t");
    FB_RETURN_IF_ERROR(Validate(c, *t).WithFieldPrefix(where));
    FB_ASSIGN_OR_RETURN(std::optional<StoredRow> existing, s_.GetRow(tenant_, t->name, c.id));
    const bool erasure = t->name == sync::ErasuresTable().name;
    if (erasure) {
      if (c.op != PushChange::Op::kCreate) {
        return Status(ErrorCode::kImmutableColumn, "an erasure cannot be changed or undone", where + ".op");
      }
      if (TextOf(c, t->partition.root_column) != c.id) {
        return Status(ErrorCode::kInvalidField, "an erasure's id is the id of the record it erases",
                      where + ".c." + t->partition.root_column);
      }
      if (existing) {
        // Erased before by another device: this device receives the stored record.
        FB_RETURN_IF_ERROR(Resend(*existing));
        ++applied;
        return Status::Ok();
      }
    }
    if (!existing && c.op == PushChange::Op::kDelete) {
      ++applied;  // never reached the server: nothing to delete
      return Status::Ok();
    }

    // Which root the row belongs to, and may the caller write there?
    std::string root;
    if (existing) {
      root = existing->root_id;
    } else {
      switch (t->partition.kind) {
        case PartitionKind::kSelf: root = c.id; break;
        case PartitionKind::kRoot:
          root = TextOf(c, t->partition.root_column);
          if (root.empty() && c.op == PushChange::Op::kUpdate) root = c.root;  // placed by the device's hint
          break;
        case PartitionKind::kTeam: root = "team:" + TextOf(c, t->partition.team_column); break;
        case PartitionKind::kTenant: root = "tenant"; break;
      }
      if (root.empty()) {
        return Status(ErrorCode::kMissingField, "needed to place the row", where + ".c." + t->partition.root_column);
      }
    }
    FB_ASSIGN_OR_RETURN(std::optional<RootInfo> root_info, s_.GetRoot(tenant_, root));
    std::optional<RootInfo> new_root;
    if (!root_info) {
      if (erasure) {
        // The record never reached the server: the erasure is kept for the erasing agent.
        new_root = RootInfo{who_.agent, who_.team};
      } else {
        if (t->partition.kind == PartitionKind::kRoot) {
          return Status(ErrorCode::kForbidden, "the row's " + t->partition.root_column + " " + root +
                                                   " is not a record you can write to", where);
        }
        RootInfo info;
        if (t->partition.kind == PartitionKind::kSelf) {
          info = RootInfo{TextOf(c, t->partition.owner_column), TextOf(c, t->partition.team_column)};
        } else if (t->partition.kind == PartitionKind::kTeam) {
          info = RootInfo{"", TextOf(c, t->partition.team_column)};
        }
        if (!MayCreateRoot(*t, info)) {
          return Status(ErrorCode::kForbidden,
                        "may not create a " + t->name + " row owned by \"" + info.owner + "\" in team \"" + info.team + "\"",
                        where);
        }
        new_root = info;
      }
    } else if (!MayWrite(*t, *root_info)) {
      FB_ASSIGN_OR_RETURN(bool gone, Erased(root));
      if (gone) {
        ++applied;
        return Status::Ok();
      }
      // A device keeps a customer that moved away until its own writes under it are
      // pushed (the eviction waits for them), so writes can follow the move even when the
      // device had heard of it: whenever they were made, they are kept for the new owner.
      FB_ASSIGN_OR_RETURN(bool moved, MovedAway(root));
      if (!moved) return Status(ErrorCode::kForbidden, "the record is outside your scope", where);
      // An erasure asked for before the move still wins: it is applied below.
      if (!erasure) {
        // Written on a device that still held the customer: kept for the new owner.
        if (c.op == PushChange::Op::kDelete) {
          FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, "", "reassigned", Side{Value{}, 0, kServerSite},
                                            Side{Value{std::string("deleted")}, c.hlc, req_.site}));
        } else {
          FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, "", "reassigned", Side{Value{}, 0, kServerSite},
                                            Side{Value{IncomingJson(c)}, c.hlc, req_.site}, true));
        }
        ++applied;
        return Status::Ok();
      }
    }

    if (existing && existing->deleted) {
      FB_ASSIGN_OR_RETURN(bool gone, Erased(root));
      if (gone) {
        ++applied;  // an erased record never comes back: the write is discarded
        return Status::Ok();
      }
      if (c.op != PushChange::Op::kDelete) {
        FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, "", "delete_update",
                                          Side{Value{}, existing->deleted_hlc, existing->deleted_site},
                                          Side{Value{IncomingJson(c)}, c.hlc, req_.site}, true));
        FB_RETURN_IF_ERROR(Resend(*existing));
      }
      ++applied;
      return Status::Ok();
    }
    if (c.op == PushChange::Op::kDelete) {
      FB_RETURN_IF_ERROR(Tombstone(*existing, c.hlc, req_.site, c.seen, true));
      ++applied;
      return Status::Ok();
    }

    // A new child whose parent is gone loses to that deletion; one whose parent belongs to
    // another customer is refused.
    if (!existing) {
      std::vector<std::pair<std::string, std::string>> parents;
      if (t->partition.kind == PartitionKind::kRoot && !t->partition.root_table.empty()) {
        parents.emplace_back(t->partition.root_table, root);
      }
      for (const auto& col : t->columns) {
        if (!col.references.empty()) {
          const std::string v = TextOf(c, col.name);
          if (!v.empty()) parents.emplace_back(col.references, v);
        }
      }
      for (const auto& [ptable, pid] : parents) {
        FB_ASSIGN_OR_RETURN(std::optional<StoredRow> parent, s_.GetRow(tenant_, ptable, pid));
        if (!parent) {
          return Status(ErrorCode::kForbidden, "refers to " + ptable + " " + pid + ", which you cannot write to", where);
        }
        if (parent->root_id != root) {
          return Status(ErrorCode::kForbidden, "refers to " + ptable + " " + pid + " of another record", where);
        }
        if (parent->deleted) {
          FB_ASSIGN_OR_RETURN(bool gone, Erased(root));
          if (gone) {
            ++applied;
            return Status::Ok();
          }
          FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, "", "delete_update",
                                            Side{Value{}, parent->deleted_hlc, parent->deleted_site},
                                            Side{Value{IncomingJson(c)}, c.hlc, req_.site}, true));
          StoredRow tomb;
          tomb.table = t->name;
          tomb.id = c.id;
          tomb.root_id = root;
          tomb.deleted = true;
          tomb.deleted_hlc = parent->deleted_hlc;
          tomb.deleted_site = parent->deleted_site;
          FB_RETURN_IF_ERROR(Resend(tomb));
          ++applied;
          return Status::Ok();
        }
      }
    }

    // Data minimisation: a column one may not see may not be written either.
    if (!SeesSensitive(who_.scope(), root_info ? *root_info : *new_root)) {
      for (const PushCell& cell : c.cells) {
        if (IsWithheldColumn(*t->Find(cell.column))) {
          return Status(ErrorCode::kForbidden,
                        "may not write " + t->name + "." + cell.column +
                            ": sensitive data of a customer owned by another agent",
                        where + ".c." + cell.column);
        }
      }
    }

    if (!existing && !erasure && !(t->partition.kind == PartitionKind::kSelf && root_info)) {
      return StoreNewRow(c, *t, root, new_root);
    }

    StoredRow row;
    if (existing) {
      row = *existing;
    } else {
      row.table = t->name;
      row.id = c.id;
      row.root_id = root;
    }
    FB_ASSIGN_OR_RETURN(const int64_t seq, s_.NextSeq(tenant_));
    bool changed = !existing;
    bool as_sent = true;  // every pushed cell stored exactly as the device has it
    for (const PushCell& cell : c.cells) {
      const ColumnSpec& col = *t->Find(cell.column);
      StoredCell incoming{cell.value, cell.hlc, req_.site, seq};
      auto it = row.cells.find(cell.column);
      if (it == row.cells.end()) {
        row.cells.emplace(cell.column, std::move(incoming));
        changed = true;
        continue;
      }
      StoredCell& stored = it->second;
      if (stored.value == cell.value && stored.hlc == cell.hlc && stored.site == req_.site) continue;
      const bool concurrent = stored.wseq > cell.seen && stored.site != req_.site;
      const bool differ = stored.value != cell.value;
      const Side mine{cell.value, cell.hlc, req_.site};
      const Side theirs{stored.value, stored.hlc, stored.site};
      switch (col.merge) {
        case MergePolicy::kMax: {
          const int cmp = CompareValues(cell.value, stored.value);
          if (cmp > 0 || (cmp == 0 && sync::VersionNewer(cell.hlc, req_.site, stored.hlc, stored.site))) {
            stored = std::move(incoming);
            changed = true;
          } else if (cmp < 0) {
            as_sent = false;
          }
          break;
        }
        case MergePolicy::kImmutable:
          if (IsNull(stored.value)) {
            stored = std::move(incoming);
            changed = true;
          } else if (differ) {
            if (!concurrent) {
              return Status(ErrorCode::kImmutableColumn, t->name + "." + cell.column + " cannot change once set",
                            where + ".c." + cell.column);
            }
            FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, cell.column, "immutable", theirs, mine));
            as_sent = false;
          }
          break;
        case MergePolicy::kTextMerge:
          if (concurrent && differ && cell.base && !AsInt(*cell.base) && !AsInt(stored.value) && !AsInt(cell.value)) {
            auto text = [](const Value& v) { return AsText(v) ? *AsText(v) : std::string(); };
            auto merged = sync::MergeText(text(*cell.base), text(stored.value), text(cell.value));
            if (merged) {
              FB_ASSIGN_OR_RETURN(Hlc hlc, s_.TickHlc(now_));
              stored = StoredCell{merged->empty() && IsNull(stored.value) ? Value{} : Value{*merged}, hlc, kServerSite, seq};
              changed = true;
              as_sent = false;
              break;
            }
            // Overlapping edits: last writer wins and the loser is recorded.
            const bool mine_wins = sync::VersionNewer(cell.hlc, req_.site, stored.hlc, stored.site);
            FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, cell.column, "text_overlap", mine_wins ? mine : theirs,
                                              mine_wins ? theirs : mine));
            if (mine_wins) {
              stored = std::move(incoming);
              changed = true;
            } else {
              as_sent = false;
            }
            break;
          }
          [[fallthrough]];
        case MergePolicy::kLww:
        case MergePolicy::kServerOnly: {
          const bool mine_wins = sync::VersionNewer(cell.hlc, req_.site, stored.hlc, stored.site);
          if (concurrent && differ) {
            FB_RETURN_IF_ERROR(RecordConflict(root, t->name, c.id, cell.column, "update_update", mine_wins ? mine : theirs,
                                              mine_wins ? theirs : mine));
          }
          if (mine_wins) {
            stored = std::move(incoming);
            changed = true;
          } else {
            as_sent = false;
          }
          break;
        }
      }
    }
    if (changed || !as_sent) {
      const bool device_has_it =
          as_sent && (!existing || existing->seq <= req_.cursor || existing->echo_site == req_.site);
      row.seq = seq;
      row.echo_site = device_has_it ? req_.site : std::string();
      FB_RETURN_IF_ERROR(s_.PutRow(tenant_, row));
      FB_RETURN_IF_ERROR(IndexBlobRefs(row, !existing));
    }
    if (new_root) FB_RETURN_IF_ERROR(s_.PutRoot(tenant_, root, *new_root));
    if (erasure) FB_RETURN_IF_ERROR(EraseStoredRoot(root, c.hlc));
    if (!existing) {
      for (const auto& col : t->columns) {
        if (col.references.empty()) continue;
        const std::string parent = TextOf(c, col.name);
        if (!parent.empty()) FB_RETURN_IF_ERROR(s_.PutRef(tenant_, parent, t->name, c.id));
      }
    }
    ++applied;
    // An owner or team change moves the whole customer.
    if (t->partition.kind == PartitionKind::kSelf && root_info) {
      auto text = [&](const std::string& col) {
        auto it = row.cells.find(col);
        return it != row.cells.end() && AsText(it->second.value) ? *AsText(it->second.value) : std::string();
      };
      const RootInfo after{text(t->partition.owner_column), text(t->partition.team_column)};
      if (after.owner != root_info->owner || after.team != root_info->team) {
        if (!who_.scope().Covers(after) && who_.role != Role::kAdmin) {
          return Status(ErrorCode::kForbidden, "may not move a record to agent \"" + after.owner + "\" in team \"" +
                                                   after.team + "\"", where);
        }
        FB_RETURN_IF_ERROR(MoveRoot(s_, tenant_, root, *root_info, after));
      }
    }
    return Status::Ok();
  }

  // Apply's end for a row the server does not hold (not an erasure, no owner change to
  // check): it is stored as pushed, every cell at its own version, without building the
  // merged row cell by cell.
  Status StoreNewRow(const PushChange& c, const TableSpec& t, const std::string& root,
                     const std::optional<RootInfo>& new_root) {
    FB_ASSIGN_OR_RETURN(const int64_t seq, s_.NextSeq(tenant_));
    std::vector<CellView> cells;
    cells.reserve(c.cells.size());
    for (const PushCell& cell : c.cells) cells.push_back(CellView{cell.column, &cell.value, cell.hlc, req_.site, seq});
    SortByColumn(cells);
    StoredRow row;
    row.table = t.name;
    row.id = c.id;
    row.root_id = root;
    row.seq = seq;
    row.echo_site = req_.site;  // the device holds exactly what it sent
    FB_RETURN_IF_ERROR(s_.PutEncodedRow(tenant_, row, EncodeLiveRow(cells)));
    for (const ColumnSpec& col : t.columns) {
      if (!sync::IsBlobColumn(col)) continue;
      const PushCell* cell = CellOf(c, col.name);
      const std::string* text = cell ? AsText(cell->value) : nullptr;
      if (!text) continue;
      const std::vector<std::string> refs = sync::BlobRefsIn(*text);
      if (!refs.empty()) FB_RETURN_IF_ERROR(s_.SetBlobRefs(tenant_, t.name, c.id, col.name, refs));
    }
    if (new_root) FB_RETURN_IF_ERROR(s_.PutRoot(tenant_, root, *new_root));
    for (const auto& col : t.columns) {
      if (col.references.empty()) continue;
      const std::string parent = TextOf(c, col.name);
      if (!parent.empty()) FB_RETURN_IF_ERROR(s_.PutRef(tenant_, parent, t.name, c.id));
    }
    ++applied;
    return Status::Ok();
  }

  // Sorts a new row's cells by column. Rows of one block list the same columns in the
  // same order: the order found for the row before is tried first.
  void SortByColumn(std::vector<CellView>& cells) {
    bool same = sorted_columns_.size() == cells.size();
    for (size_t i = 0; same && i < cells.size(); ++i) same = sorted_columns_[i].first == cells[i].column;
    if (!same) {
      sorted_columns_.clear();
      for (size_t i = 0; i < cells.size(); ++i) sorted_columns_.emplace_back(std::string(cells[i].column), i);
      std::vector<std::pair<std::string, size_t>> by_name = sorted_columns_;
      std::sort(by_name.begin(), by_name.end());
      order_.clear();
      for (const auto& [name, i] : by_name) order_.push_back(i);
    }
    std::vector<CellView> sorted;
    sorted.reserve(cells.size());
    for (size_t i : order_) sorted.push_back(cells[i]);
    cells.swap(sorted);
  }

  ServerSession& s_;
  const Principal& who_;
  const sync::SyncRequest& req_;
  const ServiceConfig& cfg_;
  Env& env_;
  const int64_t now_;
  const std::string tenant_;
  std::map<std::string, bool> erased_;      // root -> erased, within this batch
  std::map<std::string, bool> moved_away_;  // root -> once left the caller's scope, within this batch
  std::vector<std::pair<std::string, size_t>> sorted_columns_;  // SortByColumn: the last row's columns
  std::vector<size_t> order_;                                    // and their positions by name
};

}  // namespace

Status SyncService::Push(ServerSession& session, const Principal& who, const sync::SyncRequest& request,
                         ServiceResult& result) {
  if (request.batch_id.empty()) return Status::Ok();
  FB_ASSIGN_OR_RETURN(auto done, session.GetBatch(who.tenant, request.site, request.batch_id));
  if (done) {
    result.applied = done->first;
    result.conflicts = done->second;
    return Status::Ok();
  }
  PushApplier applier(session, who, request, config_, env_);
  FB_RETURN_IF_ERROR(applier.Run());
  result.applied = applier.applied;
  result.conflicts = applier.conflicts;
  return session.PutBatch(who.tenant, request.site, request.batch_id, applier.applied, applier.conflicts, env_.NowMs());
}

}  // namespace fieldbook::server
