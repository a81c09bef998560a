#!/usr/bin/env bash
# 48-logs-restart.sh — an instance's output survives a daemon restart: it
# writes to files the daemon tails (not pipes to the daemon), so after a
# SIGKILLed daemon comes back and adopts the instance, `gpurun logs read`
# shows every line it printed — before the kill, while no daemon ran, and
# after — in order, none lost, from stdout and stderr; the files go when the
# instance stops.
. "$(dirname "$0")/30-gateway-lib.bash"
cat >"$GPURUN_HOME/talk.sh" <<SH
#!/bin/sh
i=0
while :; do
  i=\$((i + 1))
  echo "tick \$i"
  [ \$((i % 5)) -eq 0 ] && echo "tock \$i" >&2
  sleep 0.1
done &
exec "$BIN" hello
SH
ticks() { # the tick numbers `gpurun logs read` shows, one a line
  "$BIN" logs read talk --limit 100000 2>/dev/null | sed -n 's/.* stdout tick \([0-9]*\)$/\1/p'
}
max_tick() { ticks | sort -n | tail -1; }
start_daemon
"$BIN" deploy talk --command sh --args "$GPURUN_HOME/talk.sh" --allow-unauthenticated \
  --min-instances 1 --idle-timeout 10m >/dev/null 2>&1 || fail "deploy talk"
wait_until 10 instances talk 1 || fail "no instance"
wait_until 10 sh -c "[ \"\$(\"$BIN\" logs read talk --limit 1000 | grep -c ' stdout tick ')\" -ge 3 ]" ||
  fail "no output before the restart"
pid=$(live_pids talk)
dir=$GPURUN_HOME/logs/talk
ls "$dir"/*.stdout "$dir"/*.stderr >/dev/null 2>&1 || fail "no output files in $dir: $(ls "$dir")"

kill_daemon
before=$(sed -n 's/.* stdout tick \([0-9]*\)$/\1/p' "$dir"/*.log | sort -n | tail -1)
sleep 1 # the instance keeps printing; nobody reads
start_daemon
[ "$(live_pids talk)" = "$pid" ] || fail "the instance was not adopted"
sleep 1 # and keeps printing to the new daemon
wait_until 5 sh -c "[ \"\$(\"$BIN\" logs read talk --limit 100000 | sed -n 's/.* stdout tick \([0-9]*\)$/\1/p' | sort -n | tail -1)\" -ge $((before + 12)) ]" ||
  fail "no lines after the restart (last before the kill: $before, now: $(max_tick))"
got=$(ticks)
last=$(echo "$got" | sort -n | tail -1)
missing=$(comm -23 <(seq 1 "$last" | sort) <(echo "$got" | sort -u))
[ -z "$missing" ] || fail "lines lost across the restart: $(echo $missing | head -c 200)"
dups=$(( $(echo "$got" | grep -c .) - $(echo "$got" | sort -u | grep -c .) ))
echo "ticks 1..$last in the log (last before the kill: $before), $dups repeated"
[ "$dups" -le 1 ] || fail "$dups lines repeated"
"$BIN" logs read talk --limit 100000 | grep -q " stderr tock $(( (last / 5 - 1) * 5 ))$" ||
  fail "stderr lines after the restart missing"
"$BIN" logs read talk --limit 100000 | grep -q "adopted by a restarted daemon" ||
  fail "no adoption note in the instance log"

stop_daemon
alive "$pid" && fail "the adopted instance outlived the daemon's shutdown"
ls "$dir"/*.stdout "$dir"/*.stderr "$dir"/*.pos 2>/dev/null && fail "output files left behind"
grep -q "hello: signal 15" "$dir"/*.log || fail "its last words (SIGTERM) are not in its log"
echo ok
