#!/usr/bin/env bash
# Graceful shutdown: SIGTERM while a request is in flight stops accepting at
# once, lets the request finish with its full answer, then exits 0.
. "$(dirname "$0")/lib.bash"
need curl
start_hello

curl -s -w ' %{http_code}' "$u/sleep?ms=1500" >"$T/inflight" & cpid=$!
sleep 0.3
kill -TERM $pid
sleep 0.2
curl -s -m 2 $u/ >/dev/null && fail "still accepting after SIGTERM"
wait $cpid
[ "$(cat "$T/inflight")" = "slept 1500 ms
 200" ] || fail "in-flight answer: $(cat "$T/inflight")"
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "did not exit after the request finished"
wait $pid; rc=$?
[ $rc = 0 ] || fail "exit status $rc"
grep -q "hello: stopped" "$T/hello.log" || fail "no stop line"
echo ok
