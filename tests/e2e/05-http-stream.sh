#!/usr/bin/env bash
# Streaming: /stream lines arrive one by one as they are written (chunked,
# flushed each time), not at the end; a client that goes away cancels the
# stream and the server stays healthy.
. "$(dirname "$0")/lib.bash"
need curl
start_hello

curl -sN -D "$T/head" "$u/stream?n=4&ms=300" | while IFS= read -r line; do
  echo "$(date +%s%N) $line"
done >"$T/lines"
grep -qi '^Transfer-Encoding: chunked' "$T/head" || fail "not chunked"
[ "$(wc -l <"$T/lines")" = 4 ] || fail "want 4 lines: $(cat "$T/lines")"
[ "$(awk '{print $3}' "$T/lines" | tr '\n' ' ')" = "1 2 3 4 " ] || fail "line order"
t1=$(sed -n 1p "$T/lines" | cut -d' ' -f1); t4=$(sed -n 4p "$T/lines" | cut -d' ' -f1)
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
