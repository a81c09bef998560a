#!/usr/bin/env bash
# 45-autoscale-oci.sh — an OCI image as a service: a static-busybox httpd
# image built with umoci and pushed to Debian's docker-registry on loopback
# is deployed with `--image 127.0.0.1:PORT/test/web:v1 --port 8080`; the
# first request pulls and unpacks it (held by the activator), crun starts the
# container in its own network namespace and the gateway proxies to it; the
# container sees PORT and K_SERVICE/K_REVISION, its output is in the
# service's logs, it scales to zero after the idle timeout and starts again.
# Root only (namespaces, mounts, cgroups); skipped elsewhere.
. "$(dirname "$0")/30-gateway-lib.bash"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces, mounts, cgroups)"; exit 77; }
for c in umoci docker-registry ip; do
  command -v "$c" >/dev/null || { echo "SKIP: $c is not installed (scripts/deps.sh)"; exit 77; }
done
command -v crun >/dev/null || command -v runc >/dev/null || { echo "SKIP: no crun or runc"; exit 77; }
bb=$(command -v busybox) || { echo "SKIP: busybox-static is not installed"; exit 77; }
file -L "$bb" 2>/dev/null | grep -q dynamic && { echo "SKIP: busybox is dynamically linked"; exit 77; }
T=$GPURUN_HOME/img
mkdir -p "$T/root/bin" "$T/root/www/cgi-bin" "$T/root/etc"
cp "$bb" "$T/root/bin/busybox"
for c in sh httpd env; do ln -s busybox "$T/root/bin/$c"; done
echo "hello from an OCI image" >"$T/root/www/index.html"
printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nenv\n' >"$T/root/www/cgi-bin/env"
chmod 755 "$T/root/www/cgi-bin/env"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$T/root/etc/passwd"
printf 'root:x:0:\n' >"$T/root/etc/group"
(
  set -e
  cd "$T"
  umoci init --layout oci
  umoci new --image oci:web
  umoci unpack --image oci:web bundle
  cp -a root/. bundle/rootfs/
  umoci repack --image oci:web bundle
  umoci config --image oci:web --config.entrypoint /bin/sh --config.entrypoint -c \
    --config.entrypoint 'echo web starting on $PORT; trap "kill \$p; exit 0" TERM;
      httpd -f -p "${PORT:-8080}" -h /www & p=$!; wait $p'
) >"$T/umoci.log" 2>&1 || fail "umoci: $(tail -5 "$T/umoci.log")"
rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/registry}}
http: {addr: 127.0.0.1:$rport}
YML
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; wait $reg 2>/dev/null; cleanup' EXIT
wait_until 5 curl -fs -o /dev/null "http://127.0.0.1:$rport/v2/" || fail "registry did not start"
base="http://127.0.0.1:$rport/v2/test/web"
m=$(sed -n 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$T/oci/index.json" | head -1)
for f in "$T"/oci/blobs/sha256/*; do
  loc=$(curl -fsi -X POST "$base/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  case $loc in http*) ;; *) loc="http://127.0.0.1:$rport$loc" ;; esac
  case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
  curl -fs -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$f" \
    "${loc}digest=sha256:$(basename "$f")" >/dev/null || fail "push blob"
done
curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$T/oci/blobs/sha256/$m" "$base/manifests/v1" >/dev/null || fail "push manifest"

start_daemon
"$BIN" deploy web --image "127.0.0.1:$rport/test/web:v1" --port 8080 --allow-unauthenticated \
  --idle-timeout 2s >/dev/null 2>&1 || fail "deploy"
t0=$(date +%s%N)
body=$(curl -sS --max-time 30 "$(url web)/") || fail "first request"
echo "first request (pull, unpack, start): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$body" = "hello from an OCI image" ] || fail "answer: '$body'"
env=$(curl -sS "$(url web)/cgi-bin/env") || fail "env"
echo "$env" | grep -q '^K_SERVICE=web$' || fail "no K_SERVICE in: $env"
echo "$env" | grep -q '^K_REVISION=web-' || fail "no K_REVISION"
echo "$env" | grep -q '^PORT=8080$' || fail "PORT is not 8080"
wait_until 8 instances web 0 || fail "did not scale to zero"
t0=$(date +%s%N)
body=$(curl -sS --max-time 30 "$(url web)/") || fail "request after scale to zero"
echo "cold start from the unpacked image: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$body" = "hello from an OCI image" ] || fail "second answer"
grep -rq "web starting on 8080" "$GPURUN_HOME/logs/web/" || fail "container output not in the logs"
stop_daemon
ip netns list 2>/dev/null | grep -q '^gpurun-' && fail "network namespaces left"
echo "ok"
