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
. "$(dirname "$0")/45-oci-lib.bash"
oci_web_image

start_daemon
"$BIN" deploy web --image "$IMAGE" --port 8080 --allow-unauthenticated \
  --idle-timeout 2s >/dev/null 2>&1 || fail "deploy"
t0=$(date +%s%N)
body=$(curl -sS --max-time 30 "$(url web)/") || fail "first request"
echo "first request (pull, unpack, start): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$body" = "hello from an OCI image" ] || fail "answer: '$body'"
env=$(curl -sS "$(url web)/cgi-bin/env") || fail "env"
echo "$env" | grep -q '^K_SERVICE=web$' || fail "no K_SERVICE in: $env"
echo "$env" | grep -q '^K_REVISION=web-' || fail "no K_REVISION"
echo "$env" | grep -q '^PORT=8080$' || fail "PORT is not 8080"
# the model store (empty here) is mounted read-only with its layout made
models=$(curl -sS "$(url web)/cgi-bin/models") || fail "models"
[ "$(echo $models)" = "blobs manifests" ] || fail "the container's model store holds '$models'"
wait_until 8 instances web 0 || fail "did not scale to zero"
t0=$(date +%s%N)
body=$(curl -sS --max-time 30 "$(url web)/") || fail "request after scale to zero"
echo "cold start from the unpacked image: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$body" = "hello from an OCI image" ] || fail "second answer"
grep -rq "web starting on 8080" "$GPURUN_HOME/logs/web/" || fail "container output not in the logs"
stop_daemon
oci_netns_left && fail "network namespaces left"
echo "ok"
