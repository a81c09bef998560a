#!/usr/bin/env bash
# 41-autoscale-crash.sh — an instance killed (SIGKILL) mid-request: the
# request in flight gets 502, the ledger closes the instance's span (stop,
# exit), a replacement starts at once for the min-instances floor and the
# next request is served; a request timeout (--timeout 1) answers 504
# while the instance lives on.
. "$(dirname "$0")/30-gateway-lib.bash"
start_daemon
"$BIN" deploy crashy --image gpurun/hello --allow-unauthenticated --min-instances 1 \
  --timeout 1 >/dev/null 2>&1 || fail "deploy"
wait_until 3 instances crashy 1 || fail "min-instances did not start one"
pid=$(live_pids crashy)
curl -s -o /dev/null -w '%{http_code}' "$(url crashy)/sleep?ms=900" >"$GPURUN_HOME/code" &
req=$!
sleep 0.3
kill -KILL "$pid"
wait "$req"
code=$(cat "$GPURUN_HOME/code")
[ "$code" = 502 ] || fail "in-flight request got $code, want 502"
# the 502 can reach curl before the daemon has reaped the child, so wait
# for the listing to change rather than for its count
replaced() { instances crashy 1 && [ "$(live_pids crashy)" != "$pid" ]; }
wait_until 3 replaced || fail "no replacement (live: $(live_pids crashy | tr '\n' ' '), dead $pid)"
new=$(live_pids crashy)
body=$(curl -sf "$(url crashy)/") || fail "request after the crash"
[ "$body" = "Hello World!" ] || fail "answer after the crash"
n=$(ledger "SELECT count(*) FROM ledger l JOIN instances i ON l.instance = i.id
            WHERE i.pid = $pid AND l.kind IN ('instance_stop', 'instance_exit')")
[ "$n" -eq 2 ] || fail "the crashed instance has $n stop/exit rows"
reason=$(ledger "SELECT reason FROM instances WHERE pid = $pid")
echo "crashed instance: $reason"
case $reason in *signal\ 9*) ;; *) fail "reason '$reason'" ;; esac
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q 'gpurun_instance_crashes_total{service="crashy"} 1' ||
  fail "metrics do not count the crash"

t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' "$(url crashy)/sleep?ms=3000")
took=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "timeout: $code after $took ms"
[ "$code" = 504 ] || fail "want 504, got $code"
[ "$took" -lt 1800 ] || fail "504 came after $took ms"
now=$(live_pids crashy)
[ "$now" = "$new" ] ||
  fail "the timeout killed the instance (live before: $new; after: $(echo $now))"
echo "ok"
