#!/usr/bin/env bash
# bench/oci/run.sh — first byte from zero instances, image against process:
# a static-busybox httpd OCI image (umoci, pushed to docker-registry on
# loopback, run by crun in its own network namespace) and `gpurun hello` as a
# process (`--command`), both behind one `gpurun daemon`, cold requests
# interleaved round by round. Per cold start, from the ledger and the
# client: spawn (request sent -> instance_start), ready (instance_start ->
# instance_ready), first byte (request sent -> first byte at the client).
# The image's pull + unpack happens once, in the first request, and is
# reported apart. Writes the "OCI vs process cold start (bench/oci)" section
# of docs/benchmarks.md. Root only (namespaces, mounts); says why and exits 0
# elsewhere. BENCH_OCI_ROUNDS: cold starts per service (default 15).
set -u
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/../lib.sh"
bin=${GPURUN_BIN:-$PWD/build/gpurun}
rounds=${BENCH_OCI_ROUNDS:-15}
say() { echo "bench oci: $*"; }
[ "$(id -u)" -eq 0 ] || { say "skipped: needs root (namespaces, mounts)"; exit 0; }
for c in umoci docker-registry curl sqlite3 python3 ip; do
  command -v "$c" >/dev/null || { say "skipped: $c is not installed"; exit 0; }
done
command -v crun >/dev/null || command -v runc >/dev/null || { say "skipped: no crun or runc"; exit 0; }
bb=$(command -v busybox) || { say "skipped: busybox-static is not installed"; exit 0; }
file -L "$bb" | grep -q dynamic && { say "skipped: busybox is dynamically linked"; exit 0; }
[ -x "$bin" ] || { say "$bin is not built"; exit 1; }

tmp=$(mktemp -d /tmp/gpurun-bench-oci.XXXXXX)
export GPURUN_HOME=$tmp/home
dpid= rpid=
finish() {
  [ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
  [ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
  rm -rf "$tmp"
}
trap finish EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the image: static busybox, httpd -f on $PORT (as in tests/e2e/45)
mkdir -p "$tmp/root/bin" "$tmp/root/www" "$tmp/root/etc"
cp "$bb" "$tmp/root/bin/busybox"
for c in sh httpd; do ln -s busybox "$tmp/root/bin/$c"; done
echo "Hello World!" >"$tmp/root/www/index.html"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$tmp/root/etc/passwd"
(
  set -e
  cd "$tmp"
  umoci init --layout oci
  umoci new --image oci:web
  umoci unpack --image oci:web bundle
  cp -a root/. bundle/rootfs/
  umoci repack --image oci:web bundle
  umoci config --image oci:web --config.entrypoint /bin/httpd --config.cmd -f \
    --config.cmd -p --config.cmd 8080 --config.cmd -h --config.cmd /www
) >"$tmp/umoci.log" 2>&1 || { cat "$tmp/umoci.log"; say "umoci failed"; exit 1; }
rport=$(free_port)
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
  "$tmp/registry" "$rport" >"$tmp/registry.yml"
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
rpid=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$rport/v2/" && break; sleep 0.05; done
base=http://127.0.0.1:$rport/v2/bench/web
m=$(sed -n 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$tmp/oci/index.json" | head -1)
for f in "$tmp"/oci/blobs/sha256/*; do
  loc=$(curl -fsi -X POST "$base/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $loc in http*) ;; *) loc="http://127.0.0.1:$rport$loc" ;; esac
  case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
  curl -fs -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$f" \
    "${loc}digest=sha256:$(basename "$f")" >/dev/null || { say "push failed"; exit 1; }
done
curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$tmp/oci/blobs/sha256/$m" "$base/manifests/v1" >/dev/null || { say "push failed"; exit 1; }
img_kib=$(du -sk "$tmp/oci/blobs" | cut -f1)

# ---- the daemon and the two services
gport=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$gport
mkdir -p "$GPURUN_HOME"
"$bin" daemon --no-cgroups 2>"$tmp/daemon.log" &
dpid=$!
for _ in $(seq 200); do curl -fs -o /dev/null "http://127.0.0.1:$gport/healthz" && break; sleep 0.05; done
"$bin" deploy ociweb --image "127.0.0.1:$rport/bench/web:v1" --port 8080 --allow-unauthenticated \
  --idle-timeout 1s >/dev/null 2>&1 || { say "deploy ociweb failed"; exit 1; }
"$bin" deploy prochello --command "$bin" --args hello --allow-unauthenticated \
  --idle-timeout 1s >/dev/null 2>&1 || { say "deploy prochello failed"; exit 1; }

sql() { sqlite3 -readonly "$GPURUN_HOME/state.db" "$1"; }
wait_zero() {
  for _ in $(seq 300); do
    [ "$(sql "SELECT count(*) FROM instances WHERE phase < 3 AND service = '$1'")" = 0 ] && return 0
    sleep 0.05
  done
  return 1
}
# one cold request: "spawn_ms ready_ms first_byte_ms"
cold() {
  local name=$1 out send fb
  wait_zero "$name" || { say "$name did not scale to zero" >&2; return 1; }
  out=$(python3 bench/gateway/coldstart.py "$gport" "$name.localhost:$gport" /) || return 1
  read -r send fb _ <<<"$out"
  sleep 0.2 # the ledger writer commits
  sql "SELECT
      (SELECT at_ns FROM ledger WHERE kind = 'instance_start' AND service = '$name' ORDER BY seq DESC LIMIT 1),
      (SELECT at_ns FROM ledger WHERE kind = 'instance_ready' AND service = '$name' ORDER BY seq DESC LIMIT 1)" |
    awk -F'|' -v s="$send" -v fb="$fb" '{ printf "%.1f %.1f %.1f\n", ($1 - s) / 1e6, ($2 - $1) / 1e6, (fb - s) / 1e6 }'
}

first=$(cold ociweb) || exit 1
read -r pull_ms _ first_ms <<<"$first"
say "first image request: pull + unpack + host set-up $pull_ms ms, first byte $first_ms ms"
: >"$tmp/cold-oci" ; : >"$tmp/cold-proc"
for i in $(seq "$rounds"); do
  o=$(cold ociweb) || exit 1
  p=$(cold prochello) || exit 1
  echo "$o" >>"$tmp/cold-oci"
  echo "$p" >>"$tmp/cold-proc"
  say "round $i: image $o | process $p (spawn ready first-byte ms)"
done

# stat FILE COLUMN p -> the p-th percentile (nearest rank), p=50 the median
stat() {
  awk -v c="$2" '{print $c}' "$1" | sort -g |
    awk -v p="$3" '{v[NR] = $1} END {i = int((NR * p + 99) / 100); if (i < 1) i = 1; printf "%.1f", v[i]}'
}
row() { # LABEL FILE
  printf '| %s | %s | %s | %s | **%s** | %s |\n' "$1" "$(stat "$2" 1 50)" "$(stat "$2" 2 50)" \
    "$(stat "$2" 2 90)" "$(stat "$2" 3 50)" "$(stat "$2" 3 90)"
}
# the split of the image's ready time, from the daemon's log (daemon_oci.c,
# daemon_inst.c): network, bundle (overlay mount, config.json), runtime
# run -d, and from there until the startup probe passed
split=$(python3 - "$tmp/daemon.log" "$rounds" <<'PY'
import re, sys
run, ready = {}, {}
for line in open(sys.argv[1]):
    m = re.search(r"instance (ociweb\S+): container running after ([\d.]+) ms "
                  r"\(network ([\d.]+), bundle ([\d.]+), \S+ run -d ([\d.]+)\)", line)
    if m:
        run[m.group(1)] = [float(x) for x in m.group(2, 3, 4, 5)]
    m = re.search(r"instance (ociweb\S+) ready in ([\d.]+) ms", line)
    if m:
        ready[m.group(1)] = float(m.group(2))
ids = [i for i in run if i in ready][-int(sys.argv[2]):]
def med(v):
    v = sorted(v)
    return v[(len(v) - 1) // 2] if v else 0.0
cols = [med([run[i][k] for i in ids]) for k in (1, 2, 3)]
cols.append(med([ready[i] - run[i][0] for i in ids]))
print("%.1f %.1f %.1f %.1f %d" % (*cols, len(ids)))
PY
)
read -r s_net s_bundle s_run s_probe s_n <<<"$split"
say "image ready split (p50 ms): network $s_net, bundle $s_bundle, run -d $s_run, then until ready $s_probe ($s_n starts)"
of=$(stat "$tmp/cold-oci" 3 50) pf=$(stat "$tmp/cold-proc" 3 50)
say "first byte median: image $of ms, process $pf ms"
verdict=met
awk -v a="$of" 'BEGIN {exit !(a > 60)}' && verdict="not met"
runtime=$(crun --version 2>/dev/null | head -1)
[ -n "$runtime" ] || runtime=$(runc --version | head -1)
section=$(cat <<MD
## OCI vs process cold start (bench/oci)

Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores,
$(uname -r), $runtime. Run: $(date -u +%Y-%m-%dT%H:%MZ), load average at the start:
$(cut -d' ' -f1 /proc/loadavg). Command: \`bench/oci/run.sh\` (\`BENCH=oci make bench\`, root).

Two services behind one \`gpurun daemon --no-cgroups\`, both \`--idle-timeout
1s\`: **image**, a static busybox httpd OCI image (one layer, $img_kib KiB of
blobs, built with umoci, pulled from docker-registry on loopback; crun in a
network namespace of its own with a veth, overlayfs root; the gateway proxies
to the container's address), and **process**, \`gpurun hello\` deployed with
\`--command\`. $rounds rounds; each waits until the state shows zero
instances of a service, then sends one request (image, then process).
Spawn: request sent -> instance start (ledger \`instance_start\`; for the
image the bundle, overlay mount, network namespace and \`crun run -d\`
come after it); ready: start -> the port accepts (\`instance_ready\`); first
byte at the client (\`bench/gateway/coldstart.py\`).

| service (ms) | spawn p50 | ready p50 | ready p90 | first byte p50 | first byte p90 |
| --- | ---: | ---: | ---: | ---: | ---: |
$(row "image (busybox httpd, crun)" "$tmp/cold-oci")
$(row "process (\`gpurun hello\`)" "$tmp/cold-proc")

Where the image's ready time goes (medians of the same $s_n starts, from
the daemon's log): network namespace and veth **$s_net ms** (0 when the
spare namespace made ahead by \`oci_host_prewarm\` was taken), bundle
(overlay mount, config.json) **$s_bundle ms**, \`$(basename "$(command -v crun || command -v runc)") run -d\`
**$s_run ms**, then until the startup probe's connect succeeded (httpd's own
start inside the container, and the probe's 1 ms poll) **$s_probe ms**.

Once per image, in its first request: pull + unpack + the OCI host's set-up
(runtime detection, sweep) took **$pull_ms ms** before the instance started;
that request's first byte came at $first_ms ms. Later cold starts use the
unpacked rootfs (cached by manifest digest).

Target: zero instances to the first byte of a busybox httpd image <= 60 ms:
**$verdict** ($of ms at the median). The process instance needs no
namespace, mount or runtime: the difference between the rows is what the
container costs. The machine is shared with other jobs (load average above).

Every cold start (spawn ready first-byte, ms):

\`\`\`
$(sed 's/^/image:   /' "$tmp/cold-oci")
$(sed 's/^/process: /' "$tmp/cold-proc")
\`\`\`
MD
)
doc=docs/benchmarks.md
printf '%s\n' "$section" >"$tmp/section"
bench_section "OCI vs process cold start (bench/oci)" "$tmp/section"
say "wrote the section to $doc"
