#!/usr/bin/env bash
# Streaming: /stream lines arrive one by one as they are written (chunked,
# flushed each time), not at the end; a client that goes away cancels the
# stream and the server stays healthy.
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

curl -sN -D "$tmp/head" "$u/stream?n=4&ms=300" | while IFS= read -r line; do
  echo "$(date +%s%N) $line"
done >"$tmp/lines"
grep -qi '^Transfer-Encoding: chunked' "$tmp/head" || fail "not chunked"
[ "$(wc -l <"$tmp/lines")" = 4 ] || fail "want 4 lines: $(cat "$tmp/lines")"
[ "$(awk '{print $3}' "$tmp/lines" | tr '\n' ' ')" = "1 2 3 4 " ] || fail "line order"
t1=$(sed -n 1p "$tmp/lines" | cut -d' ' -f1); t4=$(sed -n 4p "$tmp/lines" | cut -d' ' -f1)
gap=$(( (t4 - t1) / 1000000 ))
# lines 1..4 are written 0, 300, 600, 900 ms after the request: they must
# arrive spread out like that, not together at the end
[ "$gap" -ge 700 ] || fail "lines arrived together (${gap} ms apart)"

# a client that leaves mid-stream: the server cancels and carries on
timeout 0.5 curl -sN "$u/stream?n=1000&ms=10" >/dev/null
sleep 0.2
[ "$(curl -s $u/)" = "Hello World!" ] || fail "server after a client left"
kill -0 $pid || fail "server died"
echo ok
