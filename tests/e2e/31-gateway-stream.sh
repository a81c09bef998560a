#!/usr/bin/env bash
# 31-gateway-stream.sh — bodies stream through the gateway with no
# buffering: a chunked answer of 6 lines 200 ms apart reaches curl line by
# line (each line's arrival time is stamped: the spread must be ~1 s, not
# all at the end), an SSE-sized trickle too, and a request body streams to
# the instance (/echo) and back intact (5 MB, sha256 compared).
. "$(dirname "$0")/30-gateway-lib.bash"
start_daemon
"$BIN" deploy stream --image gpurun/hello --allow-unauthenticated >/dev/null 2>&1 || fail "deploy"
U=$(url stream)
curl -s "$U/" >/dev/null || fail "warm-up"

# stamp each line as curl hands it over
curl -sN "$U/stream?n=6&ms=200" | while IFS= read -r line; do
  echo "$(date +%s%N) $line"
done >"$GPURUN_HOME/stamps"
n=$(grep -c 'line' "$GPURUN_HOME/stamps")
[ "$n" -eq 6 ] || fail "got $n lines: $(cat "$GPURUN_HOME/stamps")"
first=$(head -1 "$GPURUN_HOME/stamps" | cut -d' ' -f1)
last=$(tail -1 "$GPURUN_HOME/stamps" | cut -d' ' -f1)
spread=$(( (last - first) / 1000000 ))
echo "6 lines, first to last: $spread ms"
[ "$spread" -ge 800 ] || fail "lines arrived together ($spread ms apart): the gateway buffered"
# every gap is about one tick, none is the whole stream
awk '{ if (NR > 1) { gap = ($1 - prev) / 1e6; if (gap > 600) bad = 1 } prev = $1 }
     END { exit bad }' "$GPURUN_HOME/stamps" || fail "a gap spans several ticks"

# a streamed request body goes through and back
head -c 5000000 /dev/urandom >"$GPURUN_HOME/in.bin"
curl -s -T "$GPURUN_HOME/in.bin" -H 'Transfer-Encoding: chunked' "$U/echo" -o "$GPURUN_HOME/out.bin" ||
  fail "echo"
a=$(sha256sum <"$GPURUN_HOME/in.bin" | cut -d' ' -f1)
b=$(sha256sum <"$GPURUN_HOME/out.bin" | cut -d' ' -f1)
[ "$a" = "$b" ] || fail "echo body differs ($(stat -c %s "$GPURUN_HOME/out.bin") bytes back)"
# and with a Content-Length
curl -s --data-binary @"$GPURUN_HOME/in.bin" "$U/echo" -o "$GPURUN_HOME/out2.bin" || fail "echo 2"
b=$(sha256sum <"$GPURUN_HOME/out2.bin" | cut -d' ' -f1)
[ "$a" = "$b" ] || fail "sized echo body differs"
echo "ok"
