#!/usr/bin/env bash
# 42-autoscale-restart.sh — a SIGKILLed daemon loses nothing: every ledger
# row written before the kill is there after the restart (same seq, same
# bytes); an instance still alive and answering is adopted (same pid, no
# new start, it keeps serving); an instance that died while the daemon was
# down is marked stopped with its span closed; and each instance's billed
# seconds (instance-based billing) are within 1 s of its wall time measured
# from outside (first request sent .. process gone).
. "$(dirname "$0")/30-gateway-lib.bash"
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
now() { date +%s%N; }
start_daemon
for s in keep lose; do
  "$BIN" deploy $s --image gpurun/hello --allow-unauthenticated --idle-timeout 10m \
    --no-cpu-throttling >/dev/null 2>&1 || fail "deploy $s"
done
t_keep=$(now)
for i in 1 2 3; do curl -sf "$(url keep)/" >/dev/null || fail "keep request $i"; done
t_lose=$(now)
curl -sf "$(url lose)/" >/dev/null || fail "lose request"
# the state is written by the daemon's writer thread, a commit (~ms) behind
wait_until 2 instances keep 1 && wait_until 2 instances lose 1 || fail "instances not in the state"
keep_pid=$(live_pids keep)
lose_pid=$(live_pids lose)
[ -n "$keep_pid" ] && [ -n "$lose_pid" ] || fail "instances not in the state"
sleep 0.3 # let the writer thread commit (one commit, ~ms)
before=$(ledger "SELECT seq, kind, at_ns, instance, status FROM ledger ORDER BY seq")
nb=$(echo "$before" | grep -c .)
[ "$nb" -ge 8 ] || fail "only $nb ledger rows before the kill"

kill_daemon
kill -KILL "$lose_pid" # dies while nobody watches
t_lose_end=$(now)
sleep 1.5 # the daemon is down; the adopted instance's time still counts
alive "$keep_pid" || fail "the instance died with the daemon"

start_daemon
after=$(ledger "SELECT seq, kind, at_ns, instance, status FROM ledger WHERE seq <= $(
  echo "$before" | tail -1 | cut -d'|' -f1) ORDER BY seq")
[ "$before" = "$after" ] || fail "ledger rows changed across the restart"
grep -q "adopted" "$DLOG" || fail "no adoption logged"
[ "$(live_pids keep)" = "$keep_pid" ] || fail "keep was not adopted (pids: $(live_pids keep))"
instances lose 0 || fail "lose still listed as live"
reason=$(ledger "SELECT reason FROM instances WHERE pid = $lose_pid")
echo "lost instance: $reason"
n=$(ledger "SELECT count(*) FROM ledger l JOIN instances i ON l.instance = i.id
            WHERE i.pid = $lose_pid AND l.kind = 'instance_exit'")
[ "$n" -eq 1 ] || fail "lost instance has $n exit rows"
body=$(curl -sf "$(url keep)/") || fail "request to the adopted instance"
[ "$body" = "Hello World!" ] || fail "adopted answer"
n=$(ledger "SELECT count(*) FROM ledger WHERE kind='instance_start' AND service='keep'")
[ "$n" -eq 1 ] || fail "keep started $n times"

stop_daemon
t_keep_end=$(now)
alive "$keep_pid" && fail "the adopted instance outlived the daemon's shutdown"
rep=$("$BIN" billing report --format json 2>&1) || {
  # the report needs the daemon: ask a fresh one
  start_daemon
  rep=$("$BIN" billing report --format json) || fail "billing report"
  stop_daemon
}
billed=$(echo "$rep" | jq -r --arg p "keep" '.instances[] | select(.service == $p) | .billed_seconds')
wall=$(( (t_keep_end - t_keep) / 1000000 ))
echo "keep: billed $billed s, wall from outside $(( wall / 1000 )).$(( wall % 1000 / 100 )) s"
python3 -c "import sys; b=float('$billed'); w=$wall/1000.0; sys.exit(0 if abs(b-w) <= 1.0 else 1)" ||
  fail "billed $billed s vs wall $wall ms"
billed=$(echo "$rep" | jq -r '.instances[] | select(.service == "lose") | .billed_seconds')
wall=$(( (t_lose_end - t_lose) / 1000000 ))
echo "lose: billed $billed s, lived $wall ms (closed at the last heartbeat)"
python3 -c "import sys; b=float('$billed'); w=$wall/1000.0; sys.exit(0 if b <= w + 0.2 and b >= w - 2.5 else 1)" ||
  fail "lost instance billed $billed s vs lived $wall ms"
echo "ok"
