# lib.bash — sourced by the shell e2e tests that start gpurun themselves
# (05 http, 25 cli, 5x platform); not a test itself: run.sh runs *.sh, and
# the 3x/4x tests have 30-gateway-lib.bash. It gives each test a scratch
# folder $T (removed on exit), kills and reaps on exit the processes handed
# to `track`, and the helpers skip, fail (tails of the logs in FAIL_LOGS),
# need CMD..., free_port, wait_http URL WHAT, start_hello ARGS, start_serve.
set -u
bin=${GPURUN_BIN:?}
T=$(mktemp -d /tmp/gpurun-e2e.XXXXXX)
TRACKED=()
FAIL_LOGS=()

# track PID...: killed (SIGTERM) and reaped when the test exits.
track() { TRACKED+=("$@"); }

# stop_pid PID: SIGTERM and reap now (a tracked PID is then left alone on exit).
stop_pid() {
  kill "$1" 2>/dev/null; wait "$1" 2>/dev/null
  local p kept=()
  for p in "${TRACKED[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  TRACKED=("${kept[@]}")
}

# A test may define on_exit to clean up more (it runs before $T goes).
e2e_cleanup() {
  local p
  for p in "${TRACKED[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${TRACKED[@]}"; do wait "$p" 2>/dev/null; done
  [ "$(type -t on_exit)" = function ] && on_exit
  rm -rf "$T"
}
trap e2e_cleanup EXIT

skip() { echo "SKIP: $*"; exit 77; }

fail() {
  echo "FAIL: $*"
  local f
  for f in "${FAIL_LOGS[@]}"; do
    [ -s "$f" ] && { echo "--- ${f#"$T"/} (last 30 lines)"; tail -30 "$f"; }
  done
  exit 1
}

need() {
  local c
  for c; do command -v "$c" >/dev/null || skip "$c is not installed"; done
}

# A TCP port nothing listens on (0 when none was found), taken below the
# kernel's ephemeral range, so no socket bound to port 0 meanwhile (an
# instance's port, a client's source port) can take it before we listen.
free_port() {
  local p lo=32768
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  [ "$lo" -gt 21024 ] || lo=40000
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % (lo - 20000)))
    [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
  done
  echo 0
}

# wait_http URL WHAT: up to 15 s for URL to answer 2xx, else fail.
wait_http() {
  for _ in $(seq 150); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  fail "$2 did not start"
}

# start_hello ARGS...: `gpurun hello --port 0 ARGS` logging to $T/hello.log;
# sets pid, port and the base URL u.
start_hello() {
  "$bin" hello --port 0 "$@" 2>"$T/hello.log" &
  pid=$!
  track "$pid"
  FAIL_LOGS+=("$T/hello.log")
  port=
  for _ in $(seq 50); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$T/hello.log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "hello did not start"
  u=http://127.0.0.1:$port
}

# serve_env: a clean model-server environment: no Ollama/gpurun host, models
# folder, API key or keep-alive from the caller; GPURUN_HOME=$T/home.
serve_env() {
  unset OLLAMA_HOST OLLAMA_MODELS GPURUN_HOST GPURUN_MODELS GPURUN_API_KEY OLLAMA_API_KEY \
    GPURUN_KEEP_ALIVE
  export GPURUN_HOME=$T/home
}

# start_serve: `gpurun serve` on GPURUN_HOST (a free loopback port unless
# set), logging to $T/serve.log; sets spid. Call serve_env first.
start_serve() {
  export GPURUN_HOST=${GPURUN_HOST:-127.0.0.1:$(free_port)}
  "$bin" serve >"$T/serve.log" 2>&1 &
  spid=$!
  track "$spid"
  FAIL_LOGS+=("$T/serve.log")
  for _ in $(seq 100); do curl -fs "http://$GPURUN_HOST/" >/dev/null && return 0; sleep 0.05; done
  fail "server did not start"
}
