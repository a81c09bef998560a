#!/usr/bin/env bash
# gpurun hello over real sockets with curl: the hello answer, keep-alive
# reuse, HEAD, JSON 404/405, /status/CODE, pipelining over one connection.
. "$(dirname "$0")/lib.bash"
need curl
start_hello

[ "$(curl -s $u/)" = "Hello World!" ] || fail "GET /"
out=$(curl -sv $u/ $u/ 2>&1)
grep -q "Re-using existing connection" <<<"$out" || fail "keep-alive not reused"
[ "$(grep -c 'Hello World!' <<<"$out")" = 2 ] || fail "two answers on one connection"
head=$(curl -sI $u/)
grep -q "Content-Length: 13" <<<"$head" || fail "HEAD lacks the length: $head"
[ "$(curl -s -o /dev/null -w '%{size_download}' -I $u/)" = 0 ] || fail "HEAD has a body"
[ "$(curl -s $u/nope)" = '{"error":"not found"}' ] || fail "404 body"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE $u/)" = 405 ] || fail "405"
[ "$(curl -s -o /dev/null -w '%{http_code}' $u/status/503)" = 503 ] || fail "/status/503"

# pipelining: three requests in one write, answers in order on one connection
exec 3<>/dev/tcp/127.0.0.1/"$port"
printf 'GET /status/201 HTTP/1.1\r\nHost: x\r\n\r\nGET /sleep?ms=200 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
resp=$(timeout 5 cat <&3)
exec 3<&-
codes=$(grep -o 'HTTP/1.1 [0-9]*' <<<"$resp" | awk '{print $2}' | tr '\n' ' ')
[ "$codes" = "201 200 200 " ] || fail "pipelined statuses: '$codes'"
grep -q 'slept 200 ms' <<<"$resp" || fail "pipelined sleep body"
[ "$(tail -c 13 <<<"$resp")" = "Hello World!" ] || fail "last pipelined answer"
echo ok
