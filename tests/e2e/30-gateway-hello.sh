#!/usr/bin/env bash
# 30-gateway-hello.sh — `gpurun deploy` of the hello sample behind the
# gateway: the URL `describe` prints answers from zero instances (cold start
# through the activator), Host routing (NAME.localhost and a plain Host
# header), 404 JSON for an unknown host, X-Request-Id passed through or
# made, X-Forwarded-For/-Proto seen by the instance, the access log, and
# /metrics; then scale back to zero after the 2 s idle timeout.
. "$(dirname "$0")/30-gateway-lib.bash"
start_daemon
"$BIN" deploy hello --image gpurun/hello --allow-unauthenticated --idle-timeout 2s \
  >/dev/null 2>&1 || fail "deploy"
U=$("$BIN" services describe hello --format 'value(status.url)')
[ "$U" = "$(url hello)" ] || fail "describe printed '$U', want $(url hello)"
[ -z "$(live_pids hello)" ] || fail "an instance runs before the first request"

t0=$(date +%s%N)
body=$(curl -sS --max-time 10 "$U/") || fail "cold request"
t1=$(date +%s%N)
[ "$body" = "Hello World!" ] || fail "cold answer: '$body'"
echo "cold request through the gateway: $(( (t1 - t0) / 1000000 )) ms"
wait_until 2 instances hello 1 || fail "want one instance after the first request"

# Host header routing to the same service
body=$(curl -sS -H "Host: hello.localhost:$PORT" "http://127.0.0.1:$PORT/") || fail "Host header"
[ "$body" = "Hello World!" ] || fail "Host header answer: '$body'"

# unknown host: 404 JSON
code=$(curl -s -o "$GPURUN_HOME/404.json" -w '%{http_code}' "$(url nosuch)/")
[ "$code" = 404 ] || fail "unknown host gave $code"
jq -e .error "$GPURUN_HOME/404.json" >/dev/null || fail "404 body is not JSON with error"

# request id passthrough, and made when absent
rid=$(curl -s -D - -o /dev/null -H 'X-Request-Id: e2e-abc-123' "$U/" | tr -d '\r' |
  awk -F': ' 'tolower($1)=="x-request-id"{print $2}')
[ "$rid" = e2e-abc-123 ] || fail "X-Request-Id passthrough: '$rid'"
rid=$(curl -s -D - -o /dev/null "$U/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-request-id"{print $2}')
[ ${#rid} -ge 16 ] || fail "no X-Request-Id made: '$rid'"

# the instance sees X-Forwarded-* and the request id (echo returns the body only,
# so check through the status route and the access log instead)
code=$(curl -s -o /dev/null -w '%{http_code}' "$U/status/503")
[ "$code" = 503 ] || fail "status passthrough gave $code"

# access log: one line per request so far (7 through the gateway to hello)
log=$GPURUN_HOME/logs/gateway.log
wait_until 2 test -s "$log" || fail "no access log"
lines=$(grep -c ' hello hello-' "$log")
[ "$lines" -ge 5 ] || fail "access log has $lines hello lines"
grep -q '"GET /status/503" 503' "$log" || fail "access log misses the 503"
grep -q 'e2e-abc-123' "$log" || fail "access log misses the request id"

# metrics
m=$(curl -s "http://127.0.0.1:$PORT/metrics")
echo "$m" | grep -q 'gpurun_requests_total{service="hello",code="200"}' || fail "metrics: requests"
echo "$m" | grep -q 'gpurun_cold_starts_total{service="hello"} 1' || fail "metrics: cold starts"
echo "$m" | grep -q 'gpurun_cold_start_duration_seconds_count{service="hello"} 1' ||
  fail "metrics: cold start histogram"
echo "$m" | grep -q 'gpurun_instances{service="hello",state="ready"} 1' || fail "metrics: instances"

# back to zero after the idle timeout (2 s), within the next ticks
wait_until 8 instances hello 0 || fail "still running after the idle timeout"
echo "scaled to zero"
body=$(curl -sS --max-time 10 "$U/") || fail "second cold request"
[ "$body" = "Hello World!" ] || fail "second cold answer"
# the ledger is written in batches between loop iterations: wait for it
starts() { [ "$(ledger "SELECT count(*) FROM ledger WHERE kind='instance_start' AND service='hello'")" -eq "$1" ]; }
wait_until 5 starts 2 ||
  fail "want 2 instance starts in the ledger, got $(ledger "SELECT count(*) FROM ledger WHERE kind='instance_start' AND service='hello'")"
stop_daemon
n=$(ledger "SELECT count(*) FROM ledger WHERE kind='instance_exit' AND service='hello'")
[ "$n" -eq 2 ] || fail "want 2 instance exits after shutdown, got $n"
echo "ok"
