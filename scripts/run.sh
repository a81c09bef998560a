#!/usr/bin/env bash
# make run — the walk-through's first step: starts `gpurun daemon` (gateway on
# $GPURUN_GATEWAY, default 127.0.0.1:8080; state in $GPURUN_HOME, default
# ~/.gpurun), deploys the model service as DESIGN.md does it
#   gpurun deploy ollama-service --image gpurun/ollama --port 11434 \
#          --gpu 1 --region local --allow-unauthenticated   (--gpu 0 without a GPU)
# prints its URL and the next commands, and stays in the foreground showing
# the daemon's log until Ctrl-C, which stops the daemon cleanly (instances get
# SIGTERM, then SIGKILL after 10 s). A daemon already running is used as is.
# Usage: scripts/run.sh [BIN]   (default build/gpurun)
set -u
bin=${1:-build/gpurun}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
[ -x "$bin" ] || { echo "run: $bin is not built (make)" >&2; exit 1; }
service=ollama-service
home=${GPURUN_HOME:-$HOME/.gpurun}
sock=$home/gpurun.sock
log=$home/daemon.log
export GPURUN_HOME=$home

# The admin API's GET /v1/info, or nothing when no daemon answers.
info() { curl -fs -m 5 --unix-socket "$sock" http://localhost/v1/info 2>/dev/null; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

dpid=
if info >/dev/null; then
  echo "run: a gpurun daemon is already running at $sock; using it"
else
  mkdir -p "$home"
  setsid "$bin" daemon >>"$log" 2>&1 &
  dpid=$!
  for _ in $(seq 100); do
    info >/dev/null && break
    kill -0 "$dpid" 2>/dev/null || break
    sleep 0.1
  done
  if ! info >/dev/null; then
    echo "run: gpurun daemon did not start; its log ($log) ends:" >&2
    tail -15 "$log" >&2
    kill "$dpid" 2>/dev/null
    exit 1
  fi
fi
stop() {
  [ -n "$dpid" ] || exit 0
  echo
  echo "run: stopping gpurun daemon (pid $dpid)"
  kill -TERM "$dpid" 2>/dev/null
  wait "$dpid" 2>/dev/null
  exit 0
}
trap stop INT TERM

i=$(info)
region=$(field region <<<"$i")
gpus=$(sed -n 's/.*"gpus":{"count":\([0-9]*\).*/\1/p' <<<"$i")
port=$(field gateway_port <<<"$i")
[ "${gpus:-0}" -gt 0 ] && gpu=1 || gpu=0

if "$bin" services describe "$service" --format 'value(metadata.name)' >/dev/null 2>&1; then
  echo "run: service [$service] is already deployed"
else
  "$bin" deploy "$service" --image gpurun/ollama --port 11434 --gpu "$gpu" \
    --region "${region:-local}" --allow-unauthenticated || { stop; exit 1; }
fi
url=$("$bin" services describe "$service" --format 'value(status.url)')
bindir=$(dirname "$bin")

cat <<EOF

gpurun is running: gateway http://127.0.0.1:${port:-8080}, admin socket $sock,
region ${region:-local}, ${gpus:-0} GPU(s). Service [$service] is at
  $url

Next, in another terminal:
  export PATH=$bindir:\$PATH GPURUN_HOME=$home
  URL=\$(gpurun services describe $service --format 'value(status.url)')
  curl -X POST \$URL/api/pull -d '{"name": "gemma3:4b"}'
  curl -X POST \$URL/api/generate -d '{"model": "gemma3:4b", "prompt": "Hello, how are you?"}'
  gpurun billing report
Offline, pull from a local registry instead (docs/platform-cli.md):
  curl -X POST \$URL/api/pull -d '{"name": "127.0.0.1:5000/library/stories260k", "insecure": true}'
EOF

if [ -z "$dpid" ]; then
  exit 0
fi
echo
echo "Ctrl-C stops the daemon. Its log ($log):"
tail -n 0 -f --pid="$dpid" "$log" &
wait "$dpid"
rc=$?
echo "run: gpurun daemon exited ($rc)"
exit "$rc"
