#!/usr/bin/env bash
# 52-platform-billing-auth: `gpurun billing report` and identity tokens with
# real processes on loopback. An instance-based `gpurun hello` service runs
# for a few seconds; the report in table, json and csv shows its instance,
# billed seconds within 1 s of the wall time it lived, its requests, and
# keeps it after the service is deleted (the ledger is history). A private
# service answers 401 without a token, 403 with a token for another audience,
# 200 with `gpurun auth print-identity-token --audience URL` (or NAME).
. "$(dirname "$0")/lib.bash"
need curl jq ss
FAIL_LOGS=("$T/daemon.log")
now() { date +%s.%N; }

export GPURUN_HOME=$T/home GPURUN_GPUS=0
port=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$port
"$bin" daemon >"$T/daemon.log" 2>&1 & dpid=$!
track "$dpid"
for _ in $(seq 100); do [ -S "$GPURUN_HOME/gpurun.sock" ] && break; sleep 0.1; done
[ -S "$GPURUN_HOME/gpurun.sock" ] || fail "the admin socket did not appear"

# ---- billing: an instance-based service lives ~3 s
"$bin" deploy meter --command "$bin" --args hello --allow-unauthenticated --no-cpu-throttling \
  >/dev/null 2>&1 || fail "deploy meter"
url=$("$bin" services describe meter --format 'value(status.url)')
t0=$(now)
for _ in 1 2 3; do [ "$(curl -s -m 20 "$url/")" = "Hello World!" ] || fail "curl meter"; done
sleep 3
"$bin" billing report --format json >"$T/bill.json" || fail "billing report --format json"
t1=$(now)
jq -e . "$T/bill.json" >/dev/null || fail "billing json does not parse: $(cat "$T/bill.json")"
n=$(jq '[.instances[] | select(.service=="meter")] | length' "$T/bill.json")
[ "$n" = 1 ] || fail "meter has $n instances in the report: $(cat "$T/bill.json")"
billed=$(jq '.instances[] | select(.service=="meter") | .billed_seconds' "$T/bill.json")
wall=$(jq '.instances[] | select(.service=="meter") | .wall_seconds' "$T/bill.json")
mode=$(jq -r '.instances[] | select(.service=="meter") | .billing' "$T/bill.json")
reqs=$(jq '.services[] | select(.service=="meter") | .requests' "$T/bill.json")
[ "$mode" = instance ] || fail "billing mode '$mode', want instance (--no-cpu-throttling)"
awk -v b="$billed" -v a="$t0" -v z="$t1" 'BEGIN { w = z - a; d = b - w; if (d < 0) d = -d; exit !(d <= 1.0) }' ||
  fail "billed $billed s vs $(awk -v a="$t0" -v z="$t1" 'BEGIN{print z-a}') s of wall time (> 1 s apart)"
awk -v b="$billed" -v w="$wall" 'BEGIN { exit !(b >= w && b - w < 0.1 + 1e-6) }' ||
  fail "billed $billed s is not wall $wall s rounded up to 100 ms"
[ "$reqs" -ge 3 ] 2>/dev/null || fail "requests $reqs, want >= 3 (the ledger may be written late)"
jq -e '.total.cost.total > 0' "$T/bill.json" >/dev/null || fail "no cost in the total"

"$bin" billing report >"$T/bill.txt" || fail "billing report (table)"
grep -q "meter" "$T/bill.txt" || fail "table lacks the service: $(cat "$T/bill.txt")"
grep -q "meter-00001-" "$T/bill.txt" || fail "table lacks the instance: $(cat "$T/bill.txt")"
"$bin" billing report --format csv --service meter >"$T/bill.csv" || fail "billing csv"
head -1 "$T/bill.csv" | grep -q "^level,service,revision,instance,billing,start,end,running,billed_seconds," ||
  fail "csv header: $(head -1 "$T/bill.csv")"
grep -q "^instance,meter,meter-00001-" "$T/bill.csv" || fail "csv instance row: $(cat "$T/bill.csv")"
grep -q "^service,meter," "$T/bill.csv" || fail "csv service row"
"$bin" billing report --since 1h --no-instances >/dev/null || fail "--since 1h"
out=$("$bin" billing report --format xml 2>&1) && fail "--format xml accepted"
grep -q "^Error: --format: 'xml' is not table, json or csv" <<<"$out" || fail "xml message: '$out'"
out=$("$bin" billing report --since yesterday 2>&1) && fail "--since yesterday accepted"
grep -q "^Error: --since" <<<"$out" || fail "since message: '$out'"
[ -f "$GPURUN_HOME/prices.json" ] || fail "no prices.json to edit"

# deleting the service keeps its billing history
"$bin" services delete meter --quiet >/dev/null 2>&1 || fail "delete meter"
"$bin" billing report --format json --service meter | jq -e '.instances | length == 1' >/dev/null ||
  fail "the deleted service's instance left the report"

# ---- auth: a private service
"$bin" deploy priv --command "$bin" --args hello >/dev/null 2>&1 || fail "deploy priv"
purl=$("$bin" services describe priv --format 'value(status.url)')
code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 "$purl/")
[ "$code" = 401 ] || fail "no token: HTTP $code, want 401"
tok=$("$bin" auth print-identity-token --audience "$purl") || fail "print-identity-token"
[[ $tok =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]] || fail "not a JWT: '$tok'"
body=$(curl -s -m 20 -H "Authorization: Bearer $tok" "$purl/")
[ "$body" = "Hello World!" ] || fail "with a token: '$body'"
tok2=$("$bin" auth print-identity-token --audience priv) || fail "--audience NAME"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 -H "Authorization: Bearer $tok2" "$purl/")
[ "$code" = 200 ] || fail "--audience NAME token: HTTP $code"
bad=$("$bin" auth print-identity-token --audience "http://other.localhost:$port")
code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 -H "Authorization: Bearer $bad" "$purl/")
[ "$code" = 403 ] || fail "wrong audience: HTTP $code, want 403"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 -H "Authorization: Bearer ${tok}x" "$purl/")
[ "$code" = 403 ] || fail "bad signature: HTTP $code, want 403"
"$bin" auth print-identity-token --format json | jq -e '.audience == "gpurun"' >/dev/null ||
  fail "the default token's audience"
out=$("$bin" auth print-identity-token --audience nope 2>&1) && fail "--audience of a missing service"
[ "$out" = "Error: service nope not found" ] || fail "audience nope: '$out'"
echo ok
