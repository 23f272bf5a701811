#!/usr/bin/env bash
# Installs what is needed, builds Fieldbook in Release and runs the demo: a sync server on
# its embedded SQLite store, an agent's phone and tablet capturing an archive offline,
# syncing, editing the same customer on both while offline, and the merge.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
./cmake/install-deps.sh
./cmake/build.sh build -DFIELDBOOK_BUILD_TESTS=OFF -DFIELDBOOK_BUILD_BENCH=OFF

FB="$root/build/bin/fieldbook"
SERVER="$root/build/bin/fieldbook-server"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Start fieldbook-server on an embedded SQLite store"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/secret"
"$SERVER" --db "$work/server.db" --listen 127.0.0.1:0 --secret "$work/secret" >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
addr="$(sed -n 's/^listening on //p' "$work/server.out")"
[ -n "$addr" ] || { echo "server did not start"; cat "$work/server.log"; exit 1; }
URL="http://$addr"
TOKEN="$("$SERVER" token --secret "$work/secret" --tenant demo-insurer --agent agent-li --team team-shanghai-3 --role agent --ttl 3600)"
echo "server at $URL"

PHONE="$work/li-phone.db"
TABLET="$work/li-tablet.db"
say "Agent 李明 sets up his phone (no signal needed from here on)"
"$FB" --db "$PHONE" init --agent agent-li --team team-shanghai-3

say "Capture customers offline"
zhang="$("$FB" --db "$PHONE" customer add --json '{"name":"张伟","gender":"male","id_type":"resident_id","id_number":"110101199003074477","phones":["13800138000"],"province":"上海","city":"上海","district":"浦东新区","occupation":"工程师","employer":"华东设计院","annual_income":36000000,"marital_status":"married","needs_segment":"family","value_tier":"potential","source":"referral","referrer_name":"王芳","notes":"喜欢钓鱼，周末有空"}')"
echo "customer 张伟: $zhang"
"$FB" --db "$PHONE" family add "$zhang" --json '{"relation":"spouse","name":"刘洋","birth_date":"1991-05-20","occupation":"教师","insured":false}' >/dev/null
"$FB" --db "$PHONE" family add "$zhang" --json '{"relation":"child","name":"张小雨","birth_date":"2018-09-01","insured":true}' >/dev/null
"$FB" --db "$PHONE" policy add "$zhang" --json '{"policy_number":"P2024-000123","product":"守护安康重疾险","product_type":"critical_illness","effective_date":"2024-03-15","term_years":30,"premium":1250000,"payment_frequency":"annual","payment_years":20,"payment_due_date":"2025-03-15","sum_assured":50000000}' >/dev/null
"$FB" --db "$PHONE" visit log "$zhang" --json '{"channel":"visit","purpose":"service","duration_min":45,"latitude":31.2304,"longitude":121.4737,"outcome":"讲解了保单责任","new_info":"孩子明年上小学","opportunities":"教育金","next_action":"带教育金方案再访","next_action_date":"2025-04-10"}' >/dev/null
"$FB" --db "$PHONE" task add --json "{\"title\":\"送教育金计划书给张伟\",\"due_date\":\"2025-04-10\",\"customer_id\":\"$zhang\",\"kind\":\"visit\"}" >/dev/null
company="$("$FB" --db "$PHONE" customer add --json '{"kind":"company","name":"上海启明科技有限公司","credit_code":"91350100M000100Y43","legal_rep":"陈启明","industry":"软件","staff_count":58,"phones":["021-62345678"],"contacts":[{"name":"赵敏","title":"人事经理","phone":"13912345678"}],"needs_segment":"sme","value_tier":"high","source":"warm"}')"
echo "company 上海启明科技: $company"
"$FB" --db "$PHONE" policy add "$company" --json '{"policy_number":"G2024-88","product":"团体医疗险","product_type":"group","effective_date":"2024-07-01","term_years":1,"premium":8600000,"payment_frequency":"annual","payment_due_date":"2025-07-01","is_group":true,"members":[{"name":"赵敏","gender":"female","relation":"employee","employee_no":"E001","joined_on":"2024-07-01"},{"name":"钱进","gender":"male","relation":"employee","employee_no":"E002","joined_on":"2024-07-01"}]}' >/dev/null

say "The archive (客户档案) of 张伟 on the phone"
"$FB" --db "$PHONE" customer archive "$zhang"
say "The company customer with its group policy roster"
"$FB" --db "$PHONE" customer archive "$company"

say "Back in signal: the phone syncs, then his tablet pulls everything"
"$FB" --db "$PHONE" sync --server "$URL" --token "$TOKEN"
"$FB" --db "$TABLET" init --agent agent-li --team team-shanghai-3
"$FB" --db "$TABLET" sync --server "$URL" --token "$TOKEN"

say "Offline again: the phone changes 张伟's phone number and occupation..."
"$FB" --db "$PHONE" customer set "$zhang" --json '{"phones":["13900139000"],"occupation":"高级工程师"}'
say "...while the tablet changes his value tier, notes and occupation"
"$FB" --db "$TABLET" customer set "$zhang" --json '{"value_tier":"high","notes":"喜欢钓鱼，周末有空；考虑给孩子买教育金","occupation":"项目经理"}'

say "Both sync"
"$FB" --db "$PHONE" sync --server "$URL" --token "$TOKEN"
"$FB" --db "$TABLET" sync --server "$URL" --token "$TOKEN"
"$FB" --db "$PHONE" sync --server "$URL" --token "$TOKEN"

say "Merged customer (the same on both devices): phone from one, tier and notes from the other"
"$FB" --db "$PHONE" customer show "$zhang"

say "The same-field edit (occupation) is kept as a conflict record, nothing lost"
"$FB" --db "$TABLET" conflicts

"$FB" --db "$PHONE" export --json > "$work/phone.json"
"$FB" --db "$TABLET" export --json > "$work/tablet.json"
if cmp -s "$work/phone.json" "$work/tablet.json"; then
  say "Converged: both devices export byte-identical archives ($(wc -c < "$work/phone.json") bytes)"
else
  echo "devices differ"; exit 1
fi
