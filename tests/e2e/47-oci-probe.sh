#!/usr/bin/env bash
# 47-oci-probe.sh — startup probes of OCI instances (Kubernetes semantics,
# Cloud Run's --startup-probe flag): an HTTP probe whose path answers 404
# and an image that never listens both fail after their budget
# (timeoutSeconds=1, periodSeconds=1, failureThreshold=2: 2 s); the held
# request gets 503 with what the probe saw, the instance's row in the state,
# its log and `gpurun services describe` say it too; an HTTP probe on a path that answers 200 passes.
# Root only; skipped with the reason elsewhere.
. "$(dirname "$0")/30-gateway-lib.bash"
. "$(dirname "$0")/45-oci-lib.bash"
oci_web_image
start_daemon
budget=timeoutSeconds=1,periodSeconds=1,failureThreshold=2

"$BIN" deploy okprobe --image "$IMAGE" --port 8080 --allow-unauthenticated \
  --startup-probe "httpGet.path=/index.html,initialDelaySeconds=0,$budget" >/dev/null 2>&1 ||
  fail "deploy okprobe"
body=$(curl -sS --max-time 30 "$(url okprobe)/") || fail "okprobe request"
[ "$body" = "hello from an OCI image" ] || fail "okprobe answer: '$body'"
grep -rq "ready on .*:8080" "$GPURUN_HOME/logs/okprobe/" || fail "okprobe log has no ready line"

# check NAME WHAT: the held request fails after the budget with WHAT
check() {
  local t0 code took reason
  t0=$(date +%s%N)
  code=$(curl -s -o "$GPURUN_HOME/$1.body" -w '%{http_code}' --max-time 30 "$(url "$1")/")
  took=$(( ($(date +%s%N) - t0) / 1000000 ))
  echo "$1: $code after $took ms: $(cat "$GPURUN_HOME/$1.body")"
  [ "$code" = 503 ] || [ "$code" = 429 ] || fail "$1: want 503 (or 429), got $code"
  grep -q "$2" "$GPURUN_HOME/$1.body" || fail "$1: the answer does not say '$2'"
  [ "$took" -ge 1900 ] || fail "$1: failed after $took ms, before the 2 s budget"
  [ "$took" -lt 8000 ] || fail "$1: failed only after $took ms"
  exited() { ledger "SELECT reason FROM instances WHERE service = '$1' AND phase = 3" | grep -q .; }
  # stopped as any instance: SIGTERM, SIGKILL after the 10 s grace (sleep as
  # PID 1 ignores SIGTERM)
  wait_until 15 exited "$1" || fail "$1: no instance ended"
  reason=$(ledger "SELECT reason FROM instances WHERE service = '$1' AND phase = 3 LIMIT 1")
  echo "$1: instance reason: $reason"
  case $reason in *"startup probe"*) ;; *) fail "$1: reason '$reason'" ;; esac
  case $reason in *"$2"*) ;; *) fail "$1: reason '$reason'" ;; esac
  grep -rq "start failed: .*$2" "$GPURUN_HOME/logs/$1/" || fail "$1: the instance log does not say why"
  "$BIN" services describe "$1" | grep "Last instance failure:.*$2" ||
    fail "$1: describe does not show the failure: $("$BIN" services describe "$1")"
}

"$BIN" deploy badpath --image "$IMAGE" --port 8080 --allow-unauthenticated \
  --startup-probe "httpGet.path=/ready,$budget" >/dev/null 2>&1 || fail "deploy badpath"
check badpath "HTTP 404"

"$BIN" deploy silent --image "$IMAGE" --port 8080 --allow-unauthenticated \
  --command /bin/sleep --args 1000 --startup-probe "tcpSocket.port=8080,$budget" \
  >/dev/null 2>&1 || fail "deploy silent"
check silent "nothing listened"
stop_daemon
oci_netns_left && fail "network namespaces left"
echo "ok"
