#include "fieldbook/server/sync_service.h"

#include <algorithm>
#include <map>

#include "fieldbook/core/json.h"
#include "fieldbook/server/minimization.h"
#include "fieldbook/sync/blobs.h"
#include "service_internal.h"

namespace fieldbook::server {

int HttpStatusFor(const Status& s) {
  if (s.ok()) return 200;
  switch (s.code()) {
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kClockSkew: return 409;
    case ErrorCode::kOffsetMismatch: return 409;
    case ErrorCode::kHashMismatch: return 422;
    case ErrorCode::kRangeNotSatisfiable: return 416;
    case ErrorCode::kUnauthorized:
    case ErrorCode::kTokenExpired:
    case ErrorCode::kRevoked: return 401;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kBusy: return 503;
    default: break;
  }
  switch (s.domain()) {
    case ErrorDomain::kValidation:
    case ErrorDomain::kProtocol: return 400;
    default: return 500;
  }
}

std::string ValueJson(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  if (const auto* i = std::get_if<int64_t>(&v)) w.Int64(*i);
  else if (const auto* d = std::get_if<double>(&v)) w.Double(*d);
  else if (const auto* s = std::get_if<std::string>(&v)) w.String(s->data(), static_cast<rapidjson::SizeType>(s->size()));
  else w.Null();
  return std::string(buf.GetString(), buf.GetSize());
}

const TableSpec* FindTable(const std::vector<const TableSpec*>& tables, std::string_view name) {
  for (const TableSpec* t : tables) {
    if (t->name == name) return t;
  }
  return nullptr;
}

std::vector<std::string> BlobRefsOfCell(const StoredRow& row, const ColumnSpec& column) {
  auto it = row.cells.find(column.name);
  if (it == row.cells.end()) return {};
  const std::string* text = AsText(it->second.value);
  return text ? sync::BlobRefsIn(*text) : std::vector<std::string>();
}

SyncService::SyncService(ServerBackend& backend, Env& env, ServiceConfig config)
    : backend_(backend), env_(env), config_(std::move(config)) {}

ServiceResult SyncService::HandleSync(ServerSession& session, const Principal& who, std::string body) {
  ServiceResult result;
  auto fail = [&](Status s) {
    result.status = s;
    result.http_status = HttpStatusFor(s);
    result.body = sync::EncodeError(s, env_.NowMs());
    return result;
  };
  auto request = sync::DecodeRequest(std::move(body));
  if (!request.ok()) return fail(request.status());
  result.changes = request->changes.size();
  if (request->changes.size() > config_.max_changes) {
    return fail(Status(ErrorCode::kPayloadTooLarge, "a batch holds at most " + std::to_string(config_.max_changes) +
                                                        " changes; split it"));
  }
  result.site = request->site;
  // Push (and device bookkeeping) in one write transaction.
  bool resync = false;
  Status pushed = session.BeginWrite(who.tenant);
  if (pushed.ok()) {
    auto device = session.GetDevice(who.tenant, request->site);
    if (!device.ok()) {
      pushed = device.status();
    } else if (*device && (*device)->revoked) {
      pushed = Status(ErrorCode::kRevoked, "this device was revoked by an administrator");
    } else if (*device && (*device)->resync_requested) {
      // An administrator asked this device to pull everything again. Its own unpushed
      // writes are still pushed first, so nothing is lost.
      resync = true;
      pushed = session.SetDeviceFlags(who.tenant, request->site, std::nullopt, false);
    }
  }
  if (pushed.ok()) pushed = Push(session, who, *request, result);
  if (pushed.ok()) {
    DeviceInfo device{request->site, who.agent, who.team, env_.NowMs(), request->cursor, false, false};
    pushed = session.TouchDevice(who.tenant, device);
  }
  if (pushed.ok()) pushed = session.Commit();
  if (!pushed.ok()) {
    session.Rollback();
    result.applied = result.conflicts = 0;
    return fail(pushed);
  }
  sync::SyncResponse response;
  response.request = request->request;
  response.acked_batch = request->batch_id;
  response.blocks = request->blocks;
  response.applied = result.applied;
  response.conflicts = result.conflicts;
  Status pulled = session.BeginRead();
  if (pulled.ok()) pulled = PullPage(session, who, *request, resync, response);
  session.Rollback();  // read-only
  if (!pulled.ok()) return fail(pulled);
  result.pulled = static_cast<int64_t>(response.raw_rows.size());
  response.server_time = env_.NowMs();
  result.body = sync::EncodeResponse(response);
  return result;
}

Status SyncService::PullPage(ServerSession& session, const Principal& who, const sync::SyncRequest& request,
                             bool force_reset, sync::SyncResponse& response) {
  response.epoch = backend_.epoch();
  FB_ASSIGN_OR_RETURN(int64_t max_seq, session.MaxSeq(who.tenant));
  int64_t cursor = request.cursor;
  // A cursor from another server (or from beyond what this one holds, after a restore)
  // cannot be continued: the device starts again from the beginning.
  if (force_reset || (!request.epoch.empty() && request.epoch != backend_.epoch()) || cursor > max_seq) {
    response.reset = true;
    cursor = 0;
  }
  const int limit = std::clamp(request.limit > 0 ? request.limit : config_.default_page, 1, config_.max_page);
  FB_ASSIGN_OR_RETURN(server::PullPage page,
                      session.Pull(who.scope(), cursor, limit, config_.max_page_bytes, request.site));
  const int64_t upto = page.more ? page.rows.back().seq : std::max(max_seq, cursor);
  response.cursor_from = cursor;
  response.cursor = upto;
  response.more = page.more;
  // Stored rows are already in wire form: only the table and id are prepended.
  response.raw_rows.reserve(page.rows.size());
  const Scope scope = who.scope();
  std::map<std::string, std::optional<RootInfo>> roots;  // for minimisation
  for (const auto& row : page.rows) {
    const std::string* body = &row.body;
    std::string withheld;
    if (who.role == Role::kLead && row.body.find("\"c\"") != std::string::npos) {
      const TableSpec* table = FindTable(config_.tables, row.table);
      if (table && HasWithheldColumns(*table)) {
        FB_ASSIGN_OR_RETURN(std::optional<StoredRow> stored, session.GetRow(who.tenant, row.table, row.id));
        if (stored) {
          auto known = roots.find(stored->root_id);
          if (known == roots.end()) {
            FB_ASSIGN_OR_RETURN(std::optional<RootInfo> info, session.GetRoot(who.tenant, stored->root_id));
            known = roots.emplace(stored->root_id, std::move(info)).first;
          }
          if (known->second && !SeesSensitive(scope, *known->second)) {
            FB_ASSIGN_OR_RETURN(withheld, WithholdSensitive(*table, row.body));
            body = &withheld;
          }
        }
      }
    }
    std::string raw = "{\"t\":" + ValueJson(Value{row.table}) + ",\"r\":" + ValueJson(Value{row.id}) + ",";
    raw.append(*body, 1, std::string::npos);
    response.raw_rows.push_back(std::move(raw));
  }
  // Evict only what moved out of scope for good within this page's range: a customer
  // moved away and back again is simply re-sent (its rows follow the last move).
  FB_ASSIGN_OR_RETURN(std::vector<ScopeChange> moves, session.ScopeChanges(who.tenant, cursor, upto));
  std::map<std::string, std::pair<RootInfo, RootInfo>> net;  // root -> (first before, last after)
  std::vector<std::string> order;
  for (const auto& move : moves) {
    auto [it, fresh] = net.emplace(move.root_id, std::make_pair(move.before, move.after));
    if (fresh) order.push_back(move.root_id);
    else it->second.second = move.after;
  }
  for (const auto& root : order) {
    const auto& [before, after] = net[root];
    if (scope.Covers(before) && !scope.Covers(after)) response.evict.push_back(root);
  }
  return Status::Ok();
}

Status MoveRoot(ServerSession& session, const std::string& tenant, const std::string& root_id,
                const RootInfo& before, const RootInfo& after) {
  FB_RETURN_IF_ERROR(session.PutRoot(tenant, root_id, after));
  FB_ASSIGN_OR_RETURN(int64_t seq, session.NextSeq(tenant));
  FB_RETURN_IF_ERROR(session.LogScopeChange(tenant, ScopeChange{seq, root_id, before, after}));
  FB_ASSIGN_OR_RETURN(auto rows, session.RowsOfRoot(tenant, root_id));
  for (const auto& [table, id] : rows) {
    FB_ASSIGN_OR_RETURN(std::optional<StoredRow> row, session.GetRow(tenant, table, id));
    if (!row) continue;
    FB_ASSIGN_OR_RETURN(row->seq, session.NextSeq(tenant));
    row->echo_site.clear();
    FB_RETURN_IF_ERROR(session.PutRow(tenant, *row));
  }
  return Status::Ok();
}

Status SyncService::Reassign(ServerSession& session, const std::string& tenant, const std::string& table,
                             const std::string& root_id, const std::string& owner, const std::string& team) {
  const TableSpec* spec = FindTable(config_.tables, table);
  if (!spec || spec->partition.kind != PartitionKind::kSelf) {
    return Status(ErrorCode::kInvalidArgument, "rows of " + table + " are not owned by an agent", "table");
  }
  if (owner.empty()) return Status(ErrorCode::kInvalidArgument, "the new owner is required", "owner");
  FB_RETURN_IF_ERROR(session.BeginWrite(tenant));
  auto run = [&]() -> Status {
    FB_ASSIGN_OR_RETURN(std::optional<StoredRow> row, session.GetRow(tenant, table, root_id));
    if (!row || row->deleted) return Status(ErrorCode::kNotFound, "no " + table + " row " + root_id + " in " + tenant);
    FB_ASSIGN_OR_RETURN(std::optional<RootInfo> before, session.GetRoot(tenant, root_id));
    const RootInfo after{owner, team};
    if (before && before->owner == after.owner && before->team == after.team) return Status::Ok();
    FB_ASSIGN_OR_RETURN(Hlc hlc, session.TickHlc(env_.NowMs()));
    for (const auto& [col, value] : {std::make_pair(spec->partition.owner_column, owner),
                                     std::make_pair(spec->partition.team_column, team)}) {
      if (col.empty()) continue;
      StoredCell& c = row->cells[col];
      c.value = value.empty() ? Value{} : Value{value};
      c.hlc = hlc;
      c.site = kServerSite;
    }
    FB_ASSIGN_OR_RETURN(row->seq, session.NextSeq(tenant));
    for (const auto& col : {spec->partition.owner_column, spec->partition.team_column}) {
      if (!col.empty()) row->cells[col].wseq = row->seq;
    }
    row->echo_site.clear();
    FB_RETURN_IF_ERROR(session.PutRow(tenant, *row));
    return MoveRoot(session, tenant, root_id, before.value_or(RootInfo{}), after);
  };
  Status s = run();
  if (!s.ok()) {
    session.Rollback();
    return s;
  }
  return session.Commit();
}

}  // namespace fieldbook::server
