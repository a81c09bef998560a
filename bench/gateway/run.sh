#!/usr/bin/env bash
# bench/gateway/run.sh — the platform gateway's cost and cold starts:
#  1. proxy overhead: wrk straight to a `gpurun hello` instance, through the
#     gpurun gateway (Host routing, activator, ledger row, access log line per
#     request), and through nginx-light as a reverse proxy (keep-alive
#     upstream, access log on, like the gateway) — one run, paired rounds;
#     -c1 gives the latency each hop adds at the median, -c64 requests/s.
#  2. cold starts from zero instances, split into spawn (request sent ->
#     process spawned), ready (spawn -> port accepts) and first byte (request
#     sent -> first byte), for the hello service and for the model server
#     with stories260K and with the 1.1B synthetic model (page cache warm,
#     and the model file evicted), plus first token of /api/generate.
# Writes the "Gateway (bench/gateway)" section of docs/benchmarks.md.
# Env: GPURUN_BIN, BENCH_SECONDS (per wrk run, default 4), BENCH_ROUNDS (3),
# BENCH_COLD (cold starts per service, default 8), BENCH_COLD_BIG (each 1.1B
# row, default 5), BENCH_BIG=0 skips the 1.1B model (written to
# build/bench-models/ by `gpurun synth` when absent, as bench/engine does).
set -u
cd "$(dirname "$0")/../.."
. bench/lib.sh
bin=${GPURUN_BIN:-$PWD/build/gpurun}
secs=${BENCH_SECONDS:-4}
rounds=${BENCH_ROUNDS:-3}
colds=${BENCH_COLD:-8}
models=${GPURUN_TEST_MODELS:-$(cd .. && pwd)/shared/models}
PATH=$PATH:/usr/sbin
for tool in wrk nginx sqlite3 python3 curl; do
  command -v $tool >/dev/null || { echo "bench gateway: $tool missing"; exit 1; }
done
[ -x "$bin" ] || { echo "bench gateway: $bin missing (make first)"; exit 1; }

tmp=$(mktemp -d /tmp/gpurun-bench-gw-XXXXXX)
export GPURUN_HOME=$tmp/home GPURUN_GPUS=0 GPURUN_NUM_THREAD=1
mkdir -p "$GPURUN_HOME"
npid= dpid=
cleanup() {
  [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
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
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null -H "Host: $2" "http://127.0.0.1:$1/" && return 0; sleep 0.05; done; return 1; }

# ---- the three paths to the same instance: the one the daemon runs (its
# own session, as every instance) is also the backend wrk and nginx reach
gport=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$gport
$srv_cpu "$bin" daemon --no-cgroups 2>"$tmp/daemon.log" & dpid=$!
for _ in $(seq 100); do [ -S "$GPURUN_HOME/gpurun.sock" ] && break; sleep 0.05; done
"$bin" deploy hello --image gpurun/hello --allow-unauthenticated --min-instances 1 \
  --concurrency 1000 >/dev/null 2>&1 || { echo "bench gateway: deploy failed"; cat "$tmp/daemon.log"; exit 1; }
ghost=hello.localhost:$gport
wait_up "$gport" "$ghost" || { echo "bench gateway: gateway did not answer"; exit 1; }
bport=
for _ in $(seq 100); do # the state is written by the ledger thread, a commit behind
  bport=$(sqlite3 -readonly "$GPURUN_HOME/state.db" \
    "SELECT port FROM instances WHERE service = 'hello' AND phase = 1 LIMIT 1" 2>/dev/null)
  [ -n "$bport" ] && break
  sleep 0.05
done
[ -n "$bport" ] || { echo "bench gateway: no ready instance in the state"; exit 1; }

nport=$(free_port)
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 4096; }
http {
  access_log $tmp/nginx-access.log;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  upstream hello { server 127.0.0.1:$bport; keepalive 128; keepalive_requests 100000000; }
  server {
    listen 127.0.0.1:$nport;
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto http;
    }
  }
}
CONF
$srv_cpu nginx -p "$tmp" -c "$tmp/nginx.conf" 2>"$tmp/nginx.stderr" & npid=$!
wait_up "$nport" x || { echo "bench gateway: nginx did not start"; cat "$tmp/nginx.stderr"; exit 1; }
for p in "$bport x" "$gport $ghost" "$nport x"; do
  set -- $p
  [ "$(curl -s -H "Host: $2" "http://127.0.0.1:$1/")" = "Hello World!" ] ||
    { echo "bench gateway: port $1 answers wrong"; exit 1; }
done

# CPU ticks of a process (all threads), or of one thread PID/TID
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
nworker=$(pgrep -P "$(cat "$tmp/nginx.pid")" nginx | head -1)
ledger_tid=$(grep -l '^gpurun-ledger$' /proc/"$dpid"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5)

# wrk PORT HOST CONNS [PID [TID]] -> "REQS_PER_S P50_US P99_US CPU_US_PER_REQ LEDGER_US_PER_REQ"
wrk_run() {
  $wrk_cpu wrk -t1 -c"$3" -d1s -H "Host: $2" "http://127.0.0.1:$1/" >/dev/null 2>&1
  local c0=0 c1=0 l0=0 l1=0
  [ -n "${4:-}" ] && c0=$(ticks "$4")
  [ -n "${5:-}" ] && l0=$(ticks "$4/task/$5")
  $wrk_cpu wrk -t1 -c"$3" -d"${secs}s" --latency -H "Host: $2" "http://127.0.0.1:$1/" >"$tmp/wrk" 2>&1
  [ -n "${4:-}" ] && c1=$(ticks "$4")
  [ -n "${5:-}" ] && l1=$(ticks "$4/task/$5")
  grep -q "Non-2xx\|Socket errors" "$tmp/wrk" && { echo "bench gateway: errors:" >&2; cat "$tmp/wrk" >&2; }
  awk -v c="$((c1 - c0))" -v l="$((l1 - l0))" -v hz="$hz" '
       function us(v) { if (v ~ /us$/) { sub(/us/, "", v); return v }
                        if (v ~ /ms$/) { sub(/ms/, "", v); return v * 1000 }
                        sub(/s$/, "", v); return v * 1e6 }
       /^Requests\/sec:/ { r = $2 } $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
       /requests in/ { n = $1 }
       END { printf "%s %.1f %.1f %.2f %.2f\n", r, p50, p99, c / hz * 1e6 / n, l / hz * 1e6 / n }' "$tmp/wrk"
}
: >"$tmp/data"
for round in $(seq "$rounds"); do
  read -r d1r d1m d1p _ _ < <(wrk_run "$bport" x 1)
  read -r g1r g1m g1p _ _ < <(wrk_run "$gport" "$ghost" 1)
  read -r n1r n1m n1p _ _ < <(wrk_run "$nport" x 1)
  read -r d64r d64m d64p _ _ < <(wrk_run "$bport" x 64)
  read -r g64r g64m g64p gcpu glcpu < <(wrk_run "$gport" "$ghost" 64 "$dpid" "$ledger_tid")
  read -r n64r n64m n64p n_cpu _ < <(wrk_run "$nport" x 64 "$nworker")
  echo "$d1m $g1m $n1m $d64r $g64r $n64r $d64p $g64p $n64p $gcpu $glcpu $n_cpu" >>"$tmp/data"
  echo "round $round: c1 p50 direct ${d1m} us, gateway ${g1m} us, nginx ${n1m} us |" \
    "c64 direct $d64r req/s (p99 ${d64p} us), gateway $g64r (p99 ${g64p} us, CPU ${gcpu} us/req," \
    "ledger thread ${glcpu}), nginx $n64r (p99 ${n64p} us, CPU ${n_cpu} us/req)" |
    tee -a "$tmp/rounds"
done
median() {
  awk "{print $1}" "$tmp/data" | sort -g | awk '{v[NR] = $1} END {m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m}'
}
d1m=$(median '$1') g1m=$(median '$2') n1m=$(median '$3')
d64r=$(median '$4') g64r=$(median '$5') n64r=$(median '$6')
d64p=$(median '$7') g64p=$(median '$8') n64p=$(median '$9')
gcpu=$(median '$10') glcpu=$(median '$11') n_cpu=$(median '$12') gloop=$(median '$10 - $11')
gadd=$(median '$2 - $1') nadd=$(median '$3 - $1')
ratio=$(awk '{print $5 / $6}' "$tmp/data" | sort -g | awk '{v[NR]=$1} END {printf "%.2f", (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}')
echo "gateway adds $gadd us at the median (nginx $nadd us); c64: ${ratio}x nginx requests/s;" \
  "CPU/request: gateway $gcpu us (ledger thread $glcpu), nginx $n_cpu us"

# ---- cold starts: NAME HOST PATH [BODY] -> lines "spawn_ms ready_ms first_byte_ms first_token_ms"
wait_zero() {
  for _ in $(seq 200); do
    [ "$(sqlite3 -readonly "$GPURUN_HOME/state.db" \
      "SELECT count(*) FROM instances WHERE phase < 3 AND service = '$1'")" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
# COLD_N overrides the count; COLD_EVICT names a file dropped from the page
# cache before each start (written back, then posix_fadvise DONTNEED through
# dd: that file only)
cold() {
  local name=$1 host=$2 path=$3 body=${4:-} i out
  for i in $(seq "${COLD_N:-$colds}"); do
    wait_zero "$name" || { echo "bench gateway: $name did not scale to zero" >&2; return 1; }
    [ -n "${COLD_EVICT:-}" ] && sync "$COLD_EVICT" &&
      dd if="$COLD_EVICT" iflag=nocache count=0 status=none
    out=$(python3 bench/gateway/coldstart.py "$gport" "$host" "$path" ${body:+"$body"}) || return 1
    sleep 0.3 # the ledger writer commits
    read -r send fb ft _ <<<"$out"
    sqlite3 -readonly "$GPURUN_HOME/state.db" "SELECT
        (SELECT at_ns FROM ledger WHERE kind = 'instance_start' AND service = '$name' ORDER BY seq DESC LIMIT 1),
        (SELECT at_ns FROM ledger WHERE kind = 'instance_ready' AND service = '$name' ORDER BY seq DESC LIMIT 1)" |
      awk -F'|' -v s="$send" -v fb="$fb" -v ft="$ft" '{
        tok = "-"
        if (ft > 0) tok = sprintf("%.1f", (ft - s) / 1e6)
        printf "%.1f %.1f %.1f %s\n", ($1 - s) / 1e6, ($2 - $1) / 1e6, (fb - s) / 1e6, tok }'
  done
}
col_median() { # FILE COLUMN
  awk -v c="$2" '$c != "-" {print $c}' "$1" | sort -g |
    awk '{v[NR] = $1} END {if (!NR) {print "-"; exit} printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
"$bin" deploy coldhello --image gpurun/hello --allow-unauthenticated --idle-timeout 1s \
  >/dev/null 2>&1 || { echo "bench gateway: deploy coldhello failed"; exit 1; }
cold coldhello "coldhello.localhost:$gport" / >"$tmp/cold-hello" || exit 1
cat "$tmp/cold-hello" | sed 's/^/cold hello (spawn ready first-byte ms): /'

gguf=$models/stories260K-F32.gguf
have_llm=0
if [ -f "$gguf" ] && "$bin" help | grep -q '^  serve '; then
  "$bin" deploy coldllm --image gpurun/ollama --port 11434 --gpu 0 --allow-unauthenticated \
    --idle-timeout 1s >/dev/null 2>&1 || { echo "bench gateway: deploy coldllm failed"; exit 1; }
  lh=coldllm.localhost:$gport
  digest=sha256:$(sha256sum "$gguf" | cut -d' ' -f1)
  curl -s -o /dev/null -H "Host: $lh" --data-binary @"$gguf" "http://127.0.0.1:$gport/api/blobs/$digest"
  curl -s -H "Host: $lh" "http://127.0.0.1:$gport/api/create" \
    -d "{\"model\":\"stories\",\"files\":{\"m.gguf\":\"$digest\"},\"stream\":false}" >/dev/null
  body='{"model":"stories","prompt":"Once upon a time","options":{"num_predict":8,"temperature":0}}'
  cold coldllm "$lh" /api/generate "$body" >"$tmp/cold-llm" || exit 1
  cat "$tmp/cold-llm" | sed 's/^/cold model server (spawn ready first-byte first-token ms): /'
  have_llm=1
fi
# the 1.1B synthetic model (TinyLlama's shape, Q4_0, as bench/engine makes it)
big=build/bench-models/synth-1.1b-Q4_0.gguf
have_big=0
if [ "$have_llm" = 1 ] && [ "${BENCH_BIG:-1}" = 1 ]; then
  if [ ! -s "$big" ]; then
    mkdir -p build/bench-models
    "$bin" synth --type Q4_0 "$big" >/dev/null || { echo "bench gateway: synth failed"; exit 1; }
  fi
  "$bin" deploy coldbig --image gpurun/ollama --port 11434 --gpu 0 --allow-unauthenticated \
    --idle-timeout 1s >/dev/null 2>&1 || { echo "bench gateway: deploy coldbig failed"; exit 1; }
  bh=coldbig.localhost:$gport
  hex=$(sha256sum "$big" | cut -d' ' -f1)
  curl -s -o /dev/null -H "Host: $bh" --data-binary @"$big" "http://127.0.0.1:$gport/api/blobs/sha256:$hex"
  curl -s -H "Host: $bh" "http://127.0.0.1:$gport/api/create" \
    -d "{\"model\":\"big\",\"files\":{\"m.gguf\":\"sha256:$hex\"},\"stream\":false}" >/dev/null
  big_mb=$(( $(stat -c %s "$big") / 1000000 ))
  bbody='{"model":"big","prompt":"Once upon a time","options":{"num_predict":8,"temperature":0}}'
  COLD_N=${BENCH_COLD_BIG:-5} cold coldbig "$bh" /api/generate "$bbody" >"$tmp/cold-big" || exit 1
  sed 's/^/cold 1.1B, page cache warm (spawn ready first-byte first-token ms): /' "$tmp/cold-big"
  COLD_N=${BENCH_COLD_BIG:-5} COLD_EVICT=$GPURUN_HOME/models/blobs/sha256-$hex \
    cold coldbig "$bh" /api/generate "$bbody" >"$tmp/cold-big-disk" || exit 1
  sed 's/^/cold 1.1B, file evicted (spawn ready first-byte first-token ms): /' "$tmp/cold-big-disk"
  have_big=1
fi
row() { # FILE LABEL
  echo "| $2 | $(col_median "$1" 1) ms | $(col_median "$1" 2) ms | $(col_median "$1" 3) ms |" \
    "**$(col_median "$1" 4) ms** |"
}
brows=
if [ "$have_big" = 1 ]; then
  brows="$(row "$tmp/cold-big" "model server + 1.1B synthetic (Q4_0, $big_mb MB), page cache warm")
$(row "$tmp/cold-big-disk" "the same, model file evicted from the page cache before each start")"
fi
hs=$(col_median "$tmp/cold-hello" 1) hr=$(col_median "$tmp/cold-hello" 2) hf=$(col_median "$tmp/cold-hello" 3)
lrow="| model server + stories260K, /api/generate | - | - | - | - |"
if [ "$have_llm" = 1 ]; then
  ls_=$(col_median "$tmp/cold-llm" 1) lr=$(col_median "$tmp/cold-llm" 2)
  lf=$(col_median "$tmp/cold-llm" 3) lt=$(col_median "$tmp/cold-llm" 4)
  lrow="| model server + stories260K, /api/generate | $ls_ ms | $lr ms | $lf ms | $lt ms |"
fi
echo "cold hello: spawn $hs ms, ready $hr ms, first byte $hf ms"

model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
nginx_v=$(nginx -v 2>&1 | sed 's/.*nginx\///')
section=$(cat <<MD
## Gateway (bench/gateway)

Machine: $model, $ncpu cores. Run: $(date -u +%Y-%m-%dT%H:%MZ), load average at
the start: $load. Command: \`bench/gateway/run.sh\` (\`BENCH=gateway make bench\`).

**Proxy overhead.** One \`gpurun hello\` instance answers "Hello World!"
(13 bytes): the one the daemon runs for the service (deployed with
\`--min-instances 1 --concurrency 1000\`). wrk reaches it straight, through
the gpurun gateway (\`gpurun daemon\`: Host routing, activator pick,
X-Forwarded-*, X-Request-Id, one access-log line and one ledger row per
request) and through nginx-light $nginx_v as a reverse proxy to the same
instance (one worker, keep-alive upstream, access log on). All three paths
share that backend, which runs in its own session like every instance: with
the kernel's session scheduling groups (autogroup) a backend in the
benchmark's own session would be scheduled differently. Proxies and backends on
core 1, wrk on core 0: \`wrk -t1 -c1|-c64 -d${secs}s --latency -H 'Host: ...'\`;
$rounds rounds, each runs the three paths back to back; medians of the rounds.

| path | p50 latency, 1 connection | requests/s, 64 connections | p99, 64 connections | proxy CPU per request |
| --- | ---: | ---: | ---: | ---: |
| straight to the instance | $d1m us | $d64r | $d64p us | - |
| gpurun gateway | $g1m us | $g64r | $g64p us | $gcpu us (ledger thread: $glcpu us) |
| nginx reverse proxy | $n1m us | $n64r | $n64p us | $n_cpu us |

The gateway adds **$gadd us** at the median (nginx adds $nadd us; target
<= 100 us). Requests/s through the gateway / through nginx, median of the
per-round ratios: **${ratio}x** (target >= 1.0x). Proxy CPU per request is
the whole process (/proc, user + system): the gateway's includes its ledger
writer thread, which appends every request's span to the SQLite ledger
(synchronous=FULL; a span goes into no index; one commit per 10 ms) — work nginx does not
do. Without it the gateway's loop thread spends $gloop us per request
(request parsing, routing, activator, headers, two socket writes, metrics,
access log). With proxy, backend and ledger on one core, requests/s follows
the total CPU per request; on a machine with a free core the ledger thread
runs beside the loop. The machine is shared with other jobs (load average
above): the per-round numbers below show how far they move.

**Cold starts** from zero instances (\`--idle-timeout 1s\`; each request
waits until the state shows zero instances), $colds per service, medians.
Spawn: request sent -> process spawned (ledger \`instance_start\`); ready:
spawn -> port accepts (\`instance_ready\`); first byte / first token: request
sent -> first byte / first NDJSON line with text, at the client
(\`bench/gateway/coldstart.py\`).

| service | spawn | ready | first byte | first token |
| --- | ---: | ---: | ---: | ---: |
| hello (\`gpurun/hello\`) | $hs ms | $hr ms | **$hf ms** | - |
$lrow
$brows

The spawn column includes the loop's own wake-up and the scheduler's delay
on this loaded machine (the daemon pinned to one busy core); unpinned and
idle (tests/unit/platform/daemon_test) the whole cold request of the hello
binary takes 5-15 ms. Ready is exec of the 4 MB binary, dynamic linking, its
listen, and the startup probe's polling (every 1 ms for the first 100 ms).

Target: zero to first byte of hello <= 50 ms. Cloud Run publishes ~5 s
instance start and ~19 s to the first token of gemma3:4b (reference §2.8).
stories260K (1.2 MB) measures the platform and the server's own start; the
1.1B rows add a real model's load: the synthetic TinyLlama-1.1B-shape model
(\`gpurun synth --type Q4_0\`, as bench/engine writes it; random weights, so
the text is gibberish but every step is the real one), uploaded through the
gateway and created as a model, then \`/api/generate\` with
\`num_predict\` 8 from zero instances (${BENCH_COLD_BIG:-5} each): the weights
are mmapped, so first token = spawn + ready + the server's load of the
GGUF (header, tensors, tokenizer) + prefill of the prompt + one decode
step in the file's layout, on the one pinned core (\`GPURUN_NUM_THREAD=1\`),
while the packer thread (docs/engine.md: packed weights) copies the
matrices at nice 19 beside it. "Page cache
warm": the file was read recently (as when an instance of the service ran
a moment ago); "evicted": dropped from the page cache before each start
(\`dd iflag=nocache\`, that file only), so the weights the first token
touches come from the disk.
MD
)
{
  printf '%s\n\nEvery round and cold start:\n\n```\n' "$section"
  cat "$tmp/rounds"
  sed 's/^/cold hello (spawn ready first-byte ms): /' "$tmp/cold-hello"
  [ "$have_llm" = 1 ] && sed 's/^/cold model server (spawn ready first-byte first-token ms): /' "$tmp/cold-llm"
  [ "$have_big" = 1 ] && sed 's/^/cold 1.1B, page cache warm (spawn ready first-byte first-token ms): /' "$tmp/cold-big"
  [ "$have_big" = 1 ] && sed 's/^/cold 1.1B, file evicted (spawn ready first-byte first-token ms): /' "$tmp/cold-big-disk"
  printf '```\n'
} >"$tmp/section"
bench_section "Gateway (bench/gateway)" "$tmp/section"
