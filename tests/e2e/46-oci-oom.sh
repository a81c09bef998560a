#!/usr/bin/env bash
# 46-oci-oom.sh — a memory limit kills an instance: an OCI image deployed
# with --memory 128Mi whose CGI script allocates past it. The request in
# flight gets 500 (Cloud Run: "All requests that are still processing on
# the instance end with an HTTP 500 error"), the whole instance is ended and
# its row in the state says why (out of memory), the ledger closes its span,
# and a replacement serves the next request. Then the same for a process
# instance (no image) under a cgroup memory limit, where the machine has a
# memory cgroup. Root only; skipped with the reason elsewhere.
. "$(dirname "$0")/30-gateway-lib.bash"
. "$(dirname "$0")/45-oci-lib.bash"
[ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
  { echo "SKIP: no memory cgroup on this machine"; exit 77; }
oci_web_image

# the daemon with cgroup limits on (30-gateway-lib's start_daemon turns them off)
"$BIN" daemon >>"$DLOG" 2>&1 &
DPID=$!
wait_until 10 curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" || fail "daemon did not start"

"$BIN" deploy hog --image "$IMAGE" --port 8080 --memory 128Mi --allow-unauthenticated \
  >/dev/null 2>&1 || fail "deploy"
body=$(curl -sS --max-time 30 "$(url hog)/") || fail "first request"
[ "$body" = "hello from an OCI image" ] || fail "answer: '$body'"
# the state is written behind the request: wait for the instance's row
has_pid() { [ -n "$(live_pids hog)" ]; }
wait_until 3 has_pid || fail "the instance is not in the state"
first=$(live_pids hog)
code=$(curl -s -o "$GPURUN_HOME/oom.body" -w '%{http_code}' --max-time 30 "$(url hog)/cgi-bin/hog")
echo "request past the memory limit: $code $(cat "$GPURUN_HOME/oom.body")"
[ "$code" = 500 ] || fail "the in-flight request got $code, want 500"
gone() { ! live_pids hog | grep -qx "$first"; }
wait_until 5 gone || fail "the OOM-killed instance is still listed"
reason=$(ledger "SELECT reason FROM instances WHERE pid = $first")
echo "instance reason: $reason"
case $reason in *"out of memory"*) ;; *) fail "reason '$reason'" ;; esac
n=$(ledger "SELECT count(*) FROM ledger l JOIN instances i ON l.instance = i.id
            WHERE i.pid = $first AND l.kind IN ('instance_stop', 'instance_exit')")
[ "$n" -eq 2 ] || fail "the OOM-killed instance has $n stop/exit rows"
body=$(curl -sS --max-time 30 "$(url hog)/") || fail "request after the OOM kill"
[ "$body" = "hello from an OCI image" ] || fail "answer after the OOM kill: '$body'"
live_pids hog | grep -qx "$first" && fail "the answer came from the killed instance"
grep -q "out of memory" "$DLOG" || fail "the daemon log does not say out of memory"
"$BIN" services describe hog | grep "Last instance failure:.*out of memory" ||
  fail "describe does not show the OOM kill"

# a process instance under a cgroup memory limit: the same rules
if grep -q "instances: cgroup v[12] at" "$DLOG"; then
  cat >"$GPURUN_HOME/hog.py" <<'PY'
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == '/hog':
            x = []
            while True:
                x.append(bytearray(8 << 20))
        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
PY
  "$BIN" deploy phog --command python3 --args "$GPURUN_HOME/hog.py" --memory 128Mi \
    --allow-unauthenticated >/dev/null 2>&1 || fail "deploy phog"
  body=$(curl -sS --max-time 30 "$(url phog)/") || fail "phog first request"
  [ "$body" = ok ] || fail "phog answer: '$body'"
  has_ppid() { [ -n "$(live_pids phog)" ]; }
  wait_until 3 has_ppid || fail "the process instance is not in the state"
  ppid=$(live_pids phog)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$(url phog)/hog")
  [ "$code" = 500 ] || fail "process instance: the in-flight request got $code, want 500"
  pgone() { ledger "SELECT reason FROM instances WHERE pid = $ppid AND phase = 3" | grep -q .; }
  wait_until 5 pgone || fail "the OOM-killed process instance is still listed"
  reason=$(ledger "SELECT reason FROM instances WHERE pid = $ppid")
  echo "process instance past the limit: $code, reason: $reason"
  case $reason in *"out of memory"*) ;; *) fail "process instance reason '$reason'" ;; esac
  body=$(curl -sS --max-time 30 "$(url phog)/") || fail "phog after the OOM kill"
  [ "$body" = ok ] || fail "phog answer after the OOM kill"
else
  echo "process instances: no cgroup limits here ($(grep -m1 cgroup "$DLOG")); not checked"
fi
grep -E "out of memory|OOM" "$DLOG" | head -4
stop_daemon
oci_netns_left && fail "network namespaces left"
echo "ok"
