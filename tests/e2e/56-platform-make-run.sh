#!/usr/bin/env bash
# 56-platform-make-run: `make run`'s script (scripts/run.sh, after deps and
# the build) on a temp GPURUN_HOME and a free gateway port: it starts the
# daemon, deploys ollama-service with --gpu 0 (GPURUN_GPUS=0), prints the URL
# and the walk-through's next commands, serves that URL, and on SIGTERM (what
# Ctrl-C amounts to) stops the daemon and its instances cleanly. A second run
# while the daemon is up uses it and deploys nothing new.
. "$(dirname "$0")/lib.bash"
command -v curl >/dev/null || skip "curl is not installed"
command -v setsid >/dev/null || skip "setsid is not installed (util-linux)"
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$root/scripts/run.sh" ] || skip "scripts/run.sh is missing"

# the daemon run.sh started, should the test fail before run.sh stops it
on_exit() {
  local d
  d=$(ss -Hltnp "sport = :${port:-0}" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  [ -n "$d" ] && kill "$d" 2>/dev/null
}
FAIL_LOGS=("$T/run.out" "$T/home/daemon.log")

export GPURUN_HOME=$T/home GPURUN_GPUS=0 GPURUN_NUM_THREAD=1
port=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$port
"$root/scripts/run.sh" "$bin" >"$T/run.out" 2>&1 & rpid=$!
track "$rpid"
for _ in $(seq 150); do grep -q "Ctrl-C stops the daemon" "$T/run.out" && break; sleep 0.1; done
grep -q "Ctrl-C stops the daemon" "$T/run.out" || fail "run.sh did not come up"
url=http://ollama-service.localhost:$port
grep -q "has been deployed and is serving 100 percent of traffic" "$T/run.out" || fail "no deploy"
grep -qx "  $url" "$T/run.out" || fail "the URL is not printed"
grep -q "0 GPU(s)" "$T/run.out" || fail "the GPU count is not printed"
grep -q "gpurun services describe ollama-service --format 'value(status.url)'" "$T/run.out" ||
  fail "the next commands are not printed"
grep -q "gpurun billing report" "$T/run.out" || fail "billing report is not among the next commands"
gpu=$("$bin" services describe ollama-service --format "value(spec.template.spec.containers[0].resources.limits.'nvidia.com/gpu')")
[ -z "$gpu" ] || fail "deployed with --gpu $gpu on a GPU-less node"
curl -fs -m 60 "$url/api/version" | grep -q '"version"' || fail "the model service does not answer at $url"

# a second run finds the daemon and the service and leaves them be
GPURUN_HOME=$T/home "$root/scripts/run.sh" "$bin" >"$T/run2.out" 2>&1 || fail "second run.sh: $(cat "$T/run2.out")"
grep -q "already running" "$T/run2.out" && grep -q "already deployed" "$T/run2.out" ||
  fail "second run: $(cat "$T/run2.out")"
[ "$("$bin" revisions list --format 'value(metadata.name)' | wc -l)" = 1 ] || fail "the second run deployed again"

kill -TERM "$rpid"
for _ in $(seq 150); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$rpid" 2>/dev/null && fail "run.sh did not stop on SIGTERM"
wait "$rpid"; rc=$?; rpid=
[ $rc -eq 0 ] || fail "run.sh exited $rc"
grep -q "gpurun daemon: stopped" "$T/home/daemon.log" || fail "the daemon did not stop cleanly"
[ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] || fail "the gateway port is still open"
"$bin" services list >/dev/null 2>&1 && fail "the admin socket still answers"
grep -q "ollama-service-00001-.* stopping: daemon shutdown" "$T/home/daemon.log" ||
  fail "the instance was not stopped with the daemon"
echo ok
