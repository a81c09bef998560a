#!/usr/bin/env bash
# 44-autoscale-traffic.sh — revisions and the traffic split: a revision
# deployed with --no-traffic serves nothing; a 50/50 split sends requests to
# both (the access log names the revision of each); a tagged revision is
# reachable at TAG---NAME.localhost whatever its percent; moving all traffic
# away drains the old revision's instances to zero at once (no idle
# timeout), and deleting the service stops routing (404) and its instances.
. "$(dirname "$0")/30-gateway-lib.bash"
start_daemon
log=$GPURUN_HOME/logs/gateway.log
"$BIN" deploy split --image gpurun/hello --allow-unauthenticated --revision-suffix one \
  --min-instances 1 >/dev/null 2>&1 || fail "deploy one"
"$BIN" deploy split --revision-suffix two --env V=2 --no-traffic --tag canary \
  >/dev/null 2>&1 || fail "deploy two"
for i in $(seq 10); do curl -sf "$(url split)/" >/dev/null || fail "request $i"; done
sleep 0.3
n2=$(grep -c ' split split-two ' "$log")
[ "$n2" -eq 0 ] || fail "--no-traffic revision served $n2 requests"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: canary---split.localhost:$PORT" "http://127.0.0.1:$PORT/")
[ "$code" = 200 ] || fail "tagged URL gave $code"
sleep 0.3
grep -q ' split split-two ' "$log" || fail "the tag did not reach revision two"

"$BIN" services update-traffic split --to-revisions split-one=50,split-two=50 >/dev/null 2>&1 ||
  fail "update-traffic 50/50"
: >"$GPURUN_HOME/before"
cp "$log" "$GPURUN_HOME/before"
for i in $(seq 40); do curl -sf "$(url split)/" >/dev/null || fail "split request $i"; done
sleep 0.3
new=$(tail -n +$(( $(wc -l <"$GPURUN_HOME/before") + 1 )) "$log")
a=$(echo "$new" | grep -c ' split split-one ')
b=$(echo "$new" | grep -c ' split split-two ')
echo "50/50 split over 40 requests: one $a, two $b"
[ "$a" -ge 8 ] && [ "$b" -ge 8 ] || fail "split $a/$b is not near 50/50"

"$BIN" services update-traffic split --to-revisions split-two=100 >/dev/null 2>&1 ||
  fail "update-traffic to two"
one_inst() { [ "$(ledger "SELECT count(*) FROM instances WHERE revision='split-one' AND phase < 3")" = 0 ]; }
wait_until 5 one_inst || fail "revision one still has instances after losing its traffic"
grep -q "revision has no traffic" "$DLOG" || fail "no drain logged"
body=$(curl -sf "$(url split)/") || fail "request after the move"
[ "$body" = "Hello World!" ] || fail "answer after the move"

"$BIN" services delete split >/dev/null 2>&1 || fail "delete"
code=$(curl -s -o /dev/null -w '%{http_code}' "$(url split)/")
[ "$code" = 404 ] || fail "deleted service answered $code"
wait_until 5 instances split 0 || fail "instances of the deleted service still run"
echo "ok"
