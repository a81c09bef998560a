#!/usr/bin/env bash
# 34-gateway-shutdown.sh — SIGTERM to the daemon is a graceful shutdown: a
# request in flight (a 1.5 s stream) finishes whole, new connections are
# refused, every instance gets SIGTERM and exits, the ledger closes each
# instance's span (stop and exit rows, state phase stopped) and the daemon
# exits 0.
. "$(dirname "$0")/30-gateway-lib.bash"
start_daemon
"$BIN" deploy slow --image gpurun/hello --allow-unauthenticated --min-instances 2 \
  >/dev/null 2>&1 || fail "deploy"
wait_until 3 instances slow 2 || fail "min-instances did not start two"
pids=$(live_pids slow)
curl -sN "$(url slow)/stream?n=5&ms=300" >"$GPURUN_HOME/stream.out" &
req=$!
sleep 0.4
kill -TERM "$DPID"
sleep 0.2
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$(url slow)/")
[ "$code" = 000 ] || fail "a new request during shutdown got $code"
wait "$req"
grep -q 'line 5' "$GPURUN_HOME/stream.out" || fail "the in-flight stream was cut: $(cat "$GPURUN_HOME/stream.out")"
wait "$DPID"
rc=$?
DPID=
[ "$rc" -eq 0 ] || fail "daemon exit status $rc"
for p in $pids; do alive "$p" && fail "instance $p outlived the daemon"; done
n=$(ledger "SELECT count(*) FROM instances WHERE service='slow' AND phase = 3")
[ "$n" -eq 2 ] || fail "$n instances marked stopped"
n=$(ledger "SELECT count(*) FROM ledger WHERE service='slow' AND kind IN ('instance_stop','instance_exit')")
[ "$n" -eq 4 ] || fail "$n stop/exit rows, want 4"
n=$(ledger "SELECT count(*) FROM ledger WHERE service='slow' AND kind='request' AND status=200")
[ "$n" -eq 1 ] || fail "the streamed request has $n ledger rows"
echo "ok"
