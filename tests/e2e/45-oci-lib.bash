# 45-oci-lib.bash — sourced by the OCI e2e scripts (45-, 46-, 47-; not a
# test itself: run.sh runs *.sh) after 30-gateway-lib.bash. oci_web_image
# skips unless root with umoci, docker-registry, crun or runc and a static
# busybox; then builds a busybox httpd image with umoci (no Docker engine),
# starts Debian's docker-registry on a free loopback port and pushes the
# image there with curl (registry API v2) as test/web:v1. Sets REG
# (127.0.0.1:PORT) and IMAGE ($REG/test/web:v1). The image: /www/index.html,
# CGI scripts /cgi-bin/env (its environment), /cgi-bin/models (ls of the
# model store) and /cgi-bin/hog (allocates until the memory limit stops
# it), busybox applets sh httpd env sleep tail ls;
# its entrypoint runs httpd on $PORT. oci_netns_left: whether this daemon's
# network namespaces are still there.

oci_web_image() {
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (namespaces, mounts, cgroups)"; exit 77; }
  local c bb
  for c in umoci docker-registry ip; do
    command -v "$c" >/dev/null || { echo "SKIP: $c is not installed (scripts/deps.sh)"; exit 77; }
  done
  command -v crun >/dev/null || command -v runc >/dev/null || { echo "SKIP: no crun or runc"; exit 77; }
  bb=$(command -v busybox) || { echo "SKIP: busybox-static is not installed"; exit 77; }
  file -L "$bb" 2>/dev/null | grep -q dynamic && { echo "SKIP: busybox is dynamically linked"; exit 77; }
  local T=$GPURUN_HOME/img
  mkdir -p "$T/root/bin" "$T/root/www/cgi-bin" "$T/root/etc"
  cp "$bb" "$T/root/bin/busybox"
  for c in sh httpd env sleep tail ls; do ln -s busybox "$T/root/bin/$c"; done
  echo "hello from an OCI image" >"$T/root/www/index.html"
  printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nenv\n' >"$T/root/www/cgi-bin/env"
  # no output before the allocation: httpd then closes without an answer
  printf '#!/bin/sh\necho "hog: eating memory" >&2\ntail /dev/zero\n' >"$T/root/www/cgi-bin/hog"
  printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nls "$GPURUN_MODELS" 2>&1\n' \
    >"$T/root/www/cgi-bin/models"
  chmod 755 "$T/root/www/cgi-bin/env" "$T/root/www/cgi-bin/hog" "$T/root/www/cgi-bin/models"
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
  start_registry "$T" || fail "registry did not start"
  local rport=$REG_PORT
  trap 'kill $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null; cleanup' EXIT
  local base="http://127.0.0.1:$rport/v2/test/web" m f loc
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
  REG=127.0.0.1:$rport
  IMAGE=$REG/test/web:v1
}

# The daemon's OCI names carry 6 hex digits of its home's sha256 (oci_net.h),
# so the check ignores other daemons running meanwhile.
oci_netns_left() {
  local tag
  tag=$(printf %s "$(realpath -m "$GPURUN_HOME")" | sha256sum | cut -c1-6)
  ip netns list 2>/dev/null | grep -q "^gpurun-$tag-"
}
