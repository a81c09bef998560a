#!/usr/bin/env bash
# Request bodies and limits against gpurun hello: a 5 MB echo by
# Content-Length and chunked (byte-exact), then each limit with its status
# and JSON error: 413 body, 431 head, 408 slow client, 503 connection cap.
. "$(dirname "$0")/lib.bash"
need curl
start_hello --header-timeout 500ms --max-conns 4 --max-body 100000

head -c 5000000 /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
got=$(curl -s --data-binary @"$T/big" $u/echo | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "echo by Content-Length differs"
got=$(curl -s -H 'Transfer-Encoding: chunked' --data-binary @"$T/big" $u/echo | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "chunked echo differs"
# a slow reader: the echo pauses the upload instead of buffering it
got=$(curl -s --limit-rate 2M --data-binary @"$T/big" $u/echo | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "rate-limited echo differs"

out=$(curl -s -w ' %{http_code}' --data-binary @"$T/big" $u/status/200)
[ "$out" = '{"error":"request body too large"} 413' ] || fail "413: $out"
big=$(head -c 20000 /dev/zero | tr '\0' a)
out=$(curl -s -w ' %{http_code}' -H "X-Big: $big" $u/)
[[ $out == '{"error":"request header fields too large"} 431' ]] || fail "431: $out"

# slow client: half a head, then nothing; 408 after the 500 ms timeout
exec 3<>/dev/tcp/127.0.0.1/"$port"
printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&3
start=$(date +%s%N)
resp=$(timeout 5 cat <&3)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
exec 3<&-
grep -q '^HTTP/1.1 408' <<<"$resp" || fail "408: $resp"
grep -q '"error"' <<<"$resp" || fail "408 JSON body"
[ "$ms" -ge 300 ] && [ "$ms" -lt 3000 ] || fail "408 after ${ms} ms"

# connection cap: 4 open, the fifth is answered 503
for i in 4 5 6 7; do eval "exec $i<>/dev/tcp/127.0.0.1/$port"; done
sleep 0.2
out=$(curl -s -w ' %{http_code}' $u/)
[ "$out" = '{"error":"too many connections"} 503' ] || fail "503: $out"
for i in 4 5 6 7; do eval "exec $i<&-"; done
sleep 0.2
[ "$(curl -s $u/)" = "Hello World!" ] || fail "serves again after the cap"
echo ok
