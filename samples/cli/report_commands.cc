// Analytics and pinyin commands: `fieldbook report NAME`, `fieldbook pinyin NAME`, and the
// access audit listing.
#include <ostream>

#include "cli.h"
#include "fieldbook/core/json.h"
#include "fieldbook/core/pinyin.h"
#include "fieldbook/core/reports.h"
#include "profile.h"

namespace fieldbook::cli {
namespace {

void PrintPlain(Context& ctx, const rapidjson::Value& v, const std::string& indent) {
  for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
    const auto& m = it->value;
    ctx.out << indent << it->name.GetString() << ":";
    if (m.IsArray()) {
      ctx.out << " (" << m.Size() << ")\n";
      for (const auto& item : m.GetArray()) {
        if (!item.IsObject()) {
          ctx.out << indent << "  " << ToJson(item) << "\n";
          continue;
        }
        ctx.out << indent << " ";
        for (auto f = item.MemberBegin(); f != item.MemberEnd(); ++f) {
          ctx.out << " " << f->name.GetString() << "=" << (f->value.IsString() ? f->value.GetString() : ToJson(f->value));
        }
        ctx.out << "\n";
      }
    } else if (m.IsObject()) {
      ctx.out << "\n";
      PrintPlain(ctx, m, indent + "  ");
    } else {
      ctx.out << " " << (m.IsString() ? m.GetString() : ToJson(m)) << "\n";
    }
  }
}

Status RunReportCommand(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string name, Positional(ctx, 0, "report NAME (composition, abc, rfm or effect)"));
  PrepareHeapForLargeReads();
  FB_ASSIGN_OR_RETURN(auto store, OpenProfile(ctx));
  ReportOptions options;
  options.from = ctx.args.Value("from").value_or("");
  options.to = ctx.args.Value("to").value_or("");
  options.team = ctx.args.Has("team");
  options.details = !ctx.args.Has("summary");
  FB_ASSIGN_OR_RETURN(std::string json, RunReport(*store, name, options));
  if (ctx.args.Has("json")) {
    ctx.out << json << "\n";
    return Status::Ok();
  }
  FB_ASSIGN_OR_RETURN(rapidjson::Document doc, ParseJson(json, "report"));
  PrintPlain(ctx, doc, "");
  return Status::Ok();
}

Status RunPinyin(Context& ctx) {
  FB_ASSIGN_OR_RETURN(std::string name, Positional(ctx, 0, "NAME"));
  FB_ASSIGN_OR_RETURN(std::unique_ptr<PinyinConverter> converter, PinyinConverter::Create());
  FB_ASSIGN_OR_RETURN(std::vector<PinyinReading> readings, converter->Readings(name));
  if (ctx.args.Has("json")) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("name");
    w.String(name.c_str(), static_cast<rapidjson::SizeType>(name.size()));
    w.Key("readings");
    w.StartArray();
    for (const auto& r : readings) {
      w.StartObject();
      w.Key("full");
      w.String(r.full.c_str());
      w.Key("initials");
      w.String(r.initials.c_str());
      w.Key("syllables");
      w.StartArray();
      for (const auto& s : r.syllables) w.String(s.c_str());
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    ctx.out << buf.GetString() << "\n";
    return Status::Ok();
  }
  for (const auto& r : readings) ctx.out << r.initials << "  " << r.full << "\n";
  return Status::Ok();
}

}  // namespace

void AddReportCommands(CommandTable& t) {
  t.push_back({"report", "report composition|abc|rfm|effect [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--team] "
                         "[--summary] [--json]",
               {"from", "to"}, {"json", "team", "summary"}, RunReportCommand});
  Command pinyin{"pinyin", "pinyin NAME [--json]", {}, {"json"}, RunPinyin};
  pinyin.needs_db = false;
  t.push_back(std::move(pinyin));
  AddAuditCommand(t);
}

}  // namespace fieldbook::cli
