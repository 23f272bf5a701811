// The synced tables of customer operation, and the derived ids that keep rows two
// devices create for the same thing from doubling.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "fieldbook/core/ids.h"
#include "fieldbook/core/operation.h"

namespace fieldbook {
namespace {

constexpr int kV2 = 2;

TableSpec ConfigTable() {
  TableBuilder b("operation_config", TeamWide("team"));
  b.Since(kV2)
      .Text("team").Required().Merge(MergePolicy::kImmutable).MaxLength(128)
      .Int("high_premium", Format::kMoney)
      .Int("general_premium", Format::kMoney)
      .Int("potential_income", Format::kMoney)
      .Int("potential_staff", Format::kCount)
      .Int("elderly_age", Format::kCount)
      .Int("grace_days", Format::kCount)
      .Int("claim_follow_days", Format::kCount)
      .Int("no_contact_months", Format::kCount)
      .Int("mature_years", Format::kCount)
      .Int("quota_prospects", Format::kCount)
      .Int("quota_visits", Format::kCount)
      .Int("quota_calls", Format::kCount)
      .Text("strategies", Format::kJsonObject).MaxLength(20000)
      .Int("updated_at", Format::kTimestamp).Merge(MergePolicy::kMax);
  return std::move(b).Build();
}

TableSpec AgentQuotas() {
  TableBuilder b("agent_quotas", OwnedBy("agent", "team"));
  b.Since(kV2)
      .Text("agent").Required().Merge(MergePolicy::kImmutable).MaxLength(128)
      .Text("team").MaxLength(128)
      .Int("prospects_per_day", Format::kCount)
      .Int("visits_per_day", Format::kCount)
      .Int("calls_per_day", Format::kCount)
      .Int("updated_at", Format::kTimestamp).Merge(MergePolicy::kMax);
  return std::move(b).Build();
}

TableSpec ClassificationOverrides() {
  TableBuilder b("classification_overrides", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Enum("field", {"needs_segment", "value_tier"}).Required().Merge(MergePolicy::kImmutable)
      .Text("value").Required().MaxLength(32)
      .Text("reason").MaxLength(1000)
      .Text("agent").MaxLength(128)
      .Int("set_at", Format::kTimestamp).Required();
  return std::move(b).Build();
}

TableSpec LifecycleEvents() {
  TableBuilder b("lifecycle_events", UnderRoot("customer_id", "customers"));
  b.Since(kV2)
      .Ref("customer_id", "customers")
      .Enum("from_stage", {"lead", "first_deal", "repeat", "mature", "redevelop", "left"})
      .Enum("to_stage", {"lead", "first_deal", "repeat", "mature", "redevelop", "left"}).Required()
      .Enum("reason", {"first_policy", "second_policy", "new_policy", "tenure", "all_policies_ended",
                       "no_contact", "manual"}).Required()
      .Text("note").MaxLength(1000)
      .Text("agent").MaxLength(128)
      .Int("occurred_at", Format::kTimestamp).Required();
  return std::move(b).Build();
}

// Days off and make-up working days announced by the State Council each year: data the
// server or a team lead updates, not code.
TableSpec Holidays() {
  TableBuilder b("holidays", TenantWide());
  b.Since(kV2)
      .Text("date", Format::kDate).Required()
      .Enum("kind", {"holiday", "workday"}).Required()
      .Text("name").Required().MaxLength(200);
  return std::move(b).Build();
}

}  // namespace

std::vector<TableSpec> OperationTables() {
  return {ConfigTable(), AgentQuotas(), ClassificationOverrides(), LifecycleEvents(), Holidays()};
}

std::string DerivedId(std::string_view key) {
  // The calendar derives one id per occasion (tens of thousands a call): the digest is
  // fetched once per thread instead of by every one-shot SHA256().
  struct Digest {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Digest() {
      EVP_MD_CTX_free(ctx);
      EVP_MD_free(md);
    }
  };
  thread_local Digest digest_of;
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (digest_of.md == nullptr || digest_of.ctx == nullptr ||
      EVP_DigestInit_ex(digest_of.ctx, digest_of.md, nullptr) != 1 ||
      EVP_DigestUpdate(digest_of.ctx, key.data(), key.size()) != 1 ||
      EVP_DigestFinal_ex(digest_of.ctx, digest, &length) != 1) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  }
  digest[6] = static_cast<uint8_t>((digest[6] & 0x0f) | 0x80);  // version 8
  digest[8] = static_cast<uint8_t>((digest[8] & 0x3f) | 0x80);  // RFC 9562 variant
  return FormatUuid(digest);
}

Date ChinaDateOfMs(int64_t ms) { return DateOfMs(ms + kChinaOffsetMs); }
int64_t ChinaStartOfDayMs(const Date& d) { return MsOfDate(d) - kChinaOffsetMs; }

}  // namespace fieldbook
