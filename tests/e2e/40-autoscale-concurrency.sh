#!/usr/bin/env bash
# 40-autoscale-concurrency.sh — containerConcurrency is a hard limit per
# instance: with --concurrency 1 --max-instances 3, three parallel slow
# requests start three instances and finish together; with
# --max-instances 1 they queue in the activator and run one after another
# (all 200); past the hold window (GPURUN_HOLD_MIN=700ms here, Cloud Run's
# floor is 10 s) a held request gets 429, and /metrics counts it.
. "$(dirname "$0")/30-gateway-lib.bash"
export GPURUN_HOLD_MIN=700ms
start_daemon
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

"$BIN" deploy wide --image gpurun/hello --allow-unauthenticated --concurrency 1 \
  --max-instances 3 >/dev/null 2>&1 || fail "deploy wide"
t0=$(date +%s%N)
pids=()
for i in 1 2 3; do
  curl -s -o /dev/null -w '%{http_code}\n' "$(url wide)/sleep?ms=1000" >"$GPURUN_HOME/w$i" &
  pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the daemon is a child too
took=$(ms "$t0")
for i in 1 2 3; do [ "$(cat "$GPURUN_HOME/w$i")" = 200 ] || fail "wide request $i: $(cat "$GPURUN_HOME/w$i")"; done
echo "3 x 1 s at concurrency 1, 3 instances allowed: $took ms"
[ "$took" -lt 1900 ] || fail "they did not run in parallel ($took ms)"
wait_until 2 instances wide 3 || fail "want 3 instances, have $(live_pids wide | grep -c .)"

"$BIN" deploy narrow --image gpurun/hello --allow-unauthenticated --concurrency 1 \
  --max-instances 1 >/dev/null 2>&1 || fail "deploy narrow"
curl -sf "$(url narrow)/" >/dev/null || fail "narrow warm-up"
t0=$(date +%s%N)
pids=()
for i in 1 2 3; do
  curl -s -o /dev/null -w '%{http_code}\n' "$(url narrow)/sleep?ms=200" >"$GPURUN_HOME/n$i" &
  pids+=($!)
done
wait "${pids[@]}"
took=$(ms "$t0")
for i in 1 2 3; do [ "$(cat "$GPURUN_HOME/n$i")" = 200 ] || fail "narrow request $i: $(cat "$GPURUN_HOME/n$i")"; done
echo "3 x 200 ms at concurrency 1, one instance: $took ms (held and released in turn)"
[ "$took" -ge 600 ] || fail "the limit was not enforced ($took ms)"
instances narrow 1 || fail "narrow went past max-instances"

# the hold window: one slow request occupies the only slot
curl -s -o /dev/null "$(url narrow)/sleep?ms=3000" &
slow=$!
sleep 0.2
t0=$(date +%s%N)
code=$(curl -s -o "$GPURUN_HOME/429.json" -w '%{http_code}' "$(url narrow)/")
took=$(ms "$t0")
echo "held request: $code after $took ms"
[ "$code" = 429 ] || fail "want 429, got $code"
[ "$took" -ge 600 ] && [ "$took" -lt 2500 ] || fail "429 after $took ms, want ~700"
grep -q 'no available instance' "$GPURUN_HOME/429.json" || fail "429 body: $(cat "$GPURUN_HOME/429.json")"
wait "$slow"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q 'gpurun_rejected_requests_total{service="narrow"} 1' ||
  fail "metrics do not count the 429"
echo "ok"
