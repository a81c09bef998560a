#!/usr/bin/env bash
# bench/http/run.sh — requests/s and p99 latency of gpurun's HTTP server
# (`gpurun hello`, one loop thread) against nginx-light (one worker) serving
# the same 13-byte answer on loopback, one after the other in one run, with
# wrk -t1 -c64. Server and wrk are pinned to different cores when there are
# two. Writes the "HTTP server" section of docs/benchmarks.md.
# Env: GPURUN_BIN (default build/gpurun), BENCH_SECONDS per run (default 5),
# BENCH_ROUNDS (default 5; medians over the rounds are reported).
set -u
cd "$(dirname "$0")/../.."
. bench/lib.sh
bin=${GPURUN_BIN:-$PWD/build/gpurun}
secs=${BENCH_SECONDS:-4}
rounds=${BENCH_ROUNDS:-5}
for tool in wrk nginx; do
  command -v $tool >/dev/null || PATH=$PATH:/usr/sbin
  command -v $tool >/dev/null || scripts/deps.sh --bench
  command -v $tool >/dev/null || { echo "bench http: $tool missing"; exit 1; }
done
[ -x "$bin" ] || { echo "bench http: $bin missing (make first)"; exit 1; }

tmp=$(mktemp -d)
hpid= npid=
cleanup() {
  [ -n "$hpid" ] && kill "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null
  [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null
  [ -n "$npid" ] && wait "$npid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

ncpu=$(nproc)
load=$(cut -d' ' -f1 /proc/loadavg)
srv_cpu= wrk_cpu=
if [ "$ncpu" -ge 2 ] && command -v taskset >/dev/null; then
  srv_cpu="taskset -c 1" wrk_cpu="taskset -c 0"
fi

free_port() { # a port nobody listens on, from the ephemeral range
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
}
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

gport=$(free_port)
$srv_cpu "$bin" hello --port "$gport" 2>"$tmp/hello.log" &
hpid=$!
wait_up "$gport" || { echo "bench http: hello did not start"; cat "$tmp/hello.log"; exit 1; }

nport=$(free_port)
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$nport;
    location = / {
      default_type "text/plain; charset=utf-8";
      return 200 "Hello World!\n";
    }
  }
}
CONF
$srv_cpu nginx -p "$tmp" -c "$tmp/nginx.conf" 2>"$tmp/nginx.stderr" & npid=$!
wait_up "$nport" || { echo "bench http: nginx did not start"; cat "$tmp/nginx.stderr" "$tmp/error.log"; exit 1; }
[ "$(curl -s "http://127.0.0.1:$gport/")" = "$(curl -s "http://127.0.0.1:$nport/")" ] ||
  { echo "bench http: the two answers differ"; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run PORT PID -> "REQS_PER_S P99_MS SERVER_CPU_US_PER_REQUEST"
run() {
  $wrk_cpu wrk -t1 -c64 -d2s "http://127.0.0.1:$1/" >/dev/null 2>&1 # warm-up
  local t0 t1 rps p99 reqs
  t0=$(cpu_ticks "$2")
  $wrk_cpu wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$1/" >"$tmp/wrk.$1" 2>&1
  t1=$(cpu_ticks "$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.$1")
  reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk.$1")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}' "$tmp/wrk.$1")
  grep -q "Non-2xx\|Socket errors" "$tmp/wrk.$1" && { echo "bench http: errors:" >&2; cat "$tmp/wrk.$1" >&2; }
  echo "$rps $p99 $(awk -v a="$t0" -v b="$t1" -v r="$reqs" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / r}')"
}
# nginx answers from its worker process, not the master
nworker=$(pgrep -P "$(cat "$tmp/nginx.pid")" nginx | head -1)
[ -n "$nworker" ] || { echo "bench http: no nginx worker"; exit 1; }

# Rounds alternate the servers; each round pairs one run of each, back to
# back. The machine is shared, so the result is the median over rounds of
# each number and of each round's gpurun/nginx ratio; server CPU time per
# request (from /proc) moves least with outside load.
: >"$tmp/data"
for round in $(seq "$rounds"); do
  read -r gr gp gc < <(run "$gport" "$hpid")
  read -r nr np nc < <(run "$nport" "$nworker")
  echo "round $round: gpurun $gr req/s p99 $gp ms ${gc} us CPU/req | nginx $nr req/s p99 $np ms ${nc} us CPU/req" | tee -a "$tmp/rounds"
  echo "$gr $gp $gc $nr $np $nc" >>"$tmp/data"
done
median() { # column expression over $tmp/data
  awk "{print $1}" "$tmp/data" | sort -g | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m}'
}
g_rps=$(median '$1') g_p99=$(median '$2') g_cpu=$(median '$3')
n_rps=$(median '$4') n_p99=$(median '$5') n_cpu=$(median '$6')
ratio=$(median '$1 / $4')   # gpurun / nginx requests/s, per round
pratio=$(median '$2 / $5')  # gpurun / nginx p99, per round
cratio=$(median '$6 / $3')  # nginx / gpurun CPU per request, per round
model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
nginx_v=$(nginx -v 2>&1 | sed 's/.*nginx\///')
echo "gpurun hello: $g_rps req/s, p99 $g_p99 ms"
echo "nginx $nginx_v: $n_rps req/s, p99 $n_p99 ms"
echo "ratio: ${ratio}x req/s, p99 ${pratio}x; nginx CPU / gpurun CPU per request: ${cratio}x"

section=$(cat <<MD
## HTTP server (bench/http)

Machine: $model, $ncpu cores. Run: $(date -u +%Y-%m-%dT%H:%MZ).

Command, for each server in turn (2 s warm-up first), the server pinned to
core 1 and wrk to core 0: \`wrk -t1 -c64 -d${secs}s --latency http://127.0.0.1:PORT/\`;
$rounds rounds, each one run of gpurun then one of nginx; medians over the
rounds (load average at the start: $load).
Servers: \`gpurun hello\` (one libuv loop thread) and nginx-light $nginx_v
(\`worker_processes 1\`, \`access_log off\`, \`return 200 "Hello World!\\n"\`),
both answering the same 13-byte body with keep-alive.

| server (median of $rounds rounds) | requests/s | p99 latency | server CPU per request |
| --- | ---: | ---: | ---: |
| gpurun hello | $g_rps | $g_p99 ms | $g_cpu us |
| nginx | $n_rps | $n_p99 ms | $n_cpu us |

Median of the per-round ratios, gpurun / nginx: **${ratio}x** requests/s,
p99 ${pratio}x (target: >= 1.0x requests/s, p99 no worse). CPU per request,
nginx / gpurun: **${cratio}x** (above 1: gpurun spends less CPU on a
request). On this shared 2-core machine requests/s follows whatever else is
running; the CPU ratio moves least.
MD
)
printf '%s\n\nEvery round:\n\n```\n%s\n```\n' "$section" "$(cat "$tmp/rounds")" >"$tmp/section"
bench_section "HTTP server (bench/http)" "$tmp/section"
