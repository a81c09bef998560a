#!/usr/bin/env bash
# Graceful shutdown: SIGTERM while a request is in flight stops accepting at
# once, lets the request finish with its full answer, then exits 0.
set -u
bin=${GPURUN_BIN:?}
command -v curl >/dev/null || { echo "SKIP: curl missing"; exit 77; }
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
"$bin" hello --port 0 2>"$tmp/log" & pid=$!
for _ in $(seq 50); do
  port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$tmp/log"); [ -n "$port" ] && break; sleep 0.1
done
[ -n "${port:-}" ] || { echo "hello did not start"; cat "$tmp/log"; exit 1; }
u=http://127.0.0.1:$port
fail() { echo "FAIL: $*"; exit 1; }

curl -s -w ' %{http_code}' "$u/sleep?ms=1500" >"$tmp/inflight" & cpid=$!
sleep 0.3
kill -TERM $pid
sleep 0.2
curl -s -m 2 $u/ >/dev/null && fail "still accepting after SIGTERM"
wait $cpid
[ "$(cat "$tmp/inflight")" = "slept 1500 ms
 200" ] || fail "in-flight answer: $(cat "$tmp/inflight")"
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "did not exit after the request finished"
wait $pid; rc=$?
[ $rc = 0 ] || fail "exit status $rc"
grep -q "hello: stopped" "$tmp/log" || fail "no stop line"
echo ok
