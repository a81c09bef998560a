# 30-gateway-lib.bash — sourced by the 3x-gateway and 4x-autoscale e2e
# scripts (not a test itself: run.sh runs *.sh). It gives each script its own
# GPURUN_HOME and a free gateway port, starts and stops `gpurun daemon`, and
# cleans up on exit: the daemon, any instance the state still lists, the
# folder. Helpers: start_daemon, stop_daemon, kill_daemon, url NAME, fail,
# live_pids SERVICE, ledger SQL, wait_until SECONDS COMMAND..., free_port,
# start_registry DIR.
set -uo pipefail
BIN=${GPURUN_BIN:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "SKIP: gpurun binary not built (GPURUN_BIN=$BIN)"
  exit 77
fi
for tool in curl sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
GPURUN_HOME=$(mktemp -d /tmp/gpurun-e2e-XXXXXX)
export GPURUN_HOME
# free_port: a loopback TCP port nothing listens on now
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$PORT
DLOG=$GPURUN_HOME/daemon.log
DPID=

fail() {
  echo "FAIL: $*"
  echo "--- daemon log (tail)"
  tail -25 "$DLOG" 2>/dev/null
  exit 1
}

start_daemon() {
  "$BIN" daemon --no-cgroups "$@" >>"$DLOG" 2>&1 &
  DPID=$!
  for _ in $(seq 1 200); do
    [ -S "$GPURUN_HOME/gpurun.sock" ] && curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    kill -0 "$DPID" 2>/dev/null || fail "daemon exited at start"
    sleep 0.05
  done
  fail "daemon did not start"
}

stop_daemon() {
  [ -n "$DPID" ] || return 0
  kill -TERM "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
  DPID=
}

kill_daemon() {
  kill -KILL "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
  DPID=
}

url() {
  echo "http://$1.localhost:$PORT"
}

# SQL against the daemon's state (read-only use).
# (waiting up to 2 s where the daemon's writes hold the database: an
# answer lost to SQLITE_BUSY would read as no rows)
ledger() {
  sqlite3 -readonly -cmd ".timeout 2000" "$GPURUN_HOME/state.db" "$1"
}

live_pids() {
  ledger "SELECT pid FROM instances WHERE phase < 3 AND service = '$1'"
}

# instances NAME N: the state lists exactly N live instances of NAME
instances() {
  [ "$(live_pids "$1" | grep -c .)" -eq "$2" ]
}

# running (a zombie whose parent died unreaped has ended)
alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

wait_until() {
  local secs=$1
  shift
  local end=$(( $(date +%s%N) + secs * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$end" ]; do
    "$@" && return 0
    sleep 0.05
  done
  return 1
}

cleanup() {
  local pids=""
  [ -f "$GPURUN_HOME/state.db" ] && pids=$(sqlite3 -readonly "$GPURUN_HOME/state.db" \
    "SELECT pid FROM instances WHERE phase < 3" 2>/dev/null)
  if [ -n "$DPID" ]; then
    kill -TERM "$DPID" 2>/dev/null
    wait "$DPID" 2>/dev/null
  fi
  for p in $pids; do
    # only processes the state names as our instances
    if grep -qz "GPURUN_INSTANCE_ID=" "/proc/$p/environ" 2>/dev/null; then
      kill -KILL -- "-$p" 2>/dev/null
    fi
  done
  rm -rf "$GPURUN_HOME"
}
trap cleanup EXIT

# start_registry DIR: Debian's docker-registry on a free loopback port,
# storing under DIR; sets REG_PORT and REG_PID (the caller's EXIT trap
# kills it). Fails, with the registry stopped, when it does not answer.
start_registry() {
  REG_PORT=$(free_port)
  cat >"$1/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $1/registry}}
http: {addr: 127.0.0.1:$REG_PORT}
YML
  docker-registry serve "$1/registry.yml" >"$1/registry.log" 2>&1 &
  REG_PID=$!
  wait_until 5 curl -fs -o /dev/null "http://127.0.0.1:$REG_PORT/v2/" && return 0
  kill "$REG_PID" 2>/dev/null
  wait "$REG_PID" 2>/dev/null
  return 1
}
