#!/usr/bin/env bash
# 35-oci-busybox: the OCI image path end to end, as root, on loopback only.
# Builds a busybox httpd image with umoci, pushes it (curl, registry API v2)
# to a docker-registry on a free 127.0.0.1 port, then runs the driver
# program (tests/unit/platform/oci_run_test with GPURUN_OCI_E2E_* set): pull
# with gpurun's client, unpack, start with crun in its own network namespace,
# HTTP GET through the veth, start-to-first-byte timings, a memory limit that
# kills, a pull refused because a layer's digest lies. Afterwards nothing may
# be left: no container, no gpurun-* namespace, no mount, no cgroup.
set -u
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, mounts, cgroups)"
for c in umoci docker-registry curl ip sha256sum; do
  command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh)"
done
command -v crun >/dev/null || command -v runc >/dev/null || skip "neither crun nor runc is installed"
bb=$(command -v busybox) || skip "busybox-static is not installed"
file -L "$bb" 2>/dev/null | grep -q dynamic && skip "busybox is dynamically linked (install busybox-static)"
build=${GPURUN_BUILD:-$PWD/build}
driver=$build/tests/platform/oci_run_test
[ -x "$driver" ] || skip "$driver not built (make tests-build)"

T=$(mktemp -d /tmp/gpurun-oci-e2e.XXXXXX)
reg_pid=
cleanup() {
  [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
  done
  echo 0
}

# ---- the image: static busybox, httpd on $PORT, a CGI that prints the env
mkdir -p "$T/root/bin" "$T/root/www/cgi-bin" "$T/root/etc"
cp "$bb" "$T/root/bin/busybox"
for c in sh httpd env cat tail sleep; do ln -s busybox "$T/root/bin/$c"; done
echo "hello from an OCI image" >"$T/root/www/index.html"
printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\nenv\n' >"$T/root/www/cgi-bin/env"
chmod 755 "$T/root/www/cgi-bin/env"
printf 'root:x:0:0:root:/:/bin/sh\nwww:x:33:33:www:/www:/bin/sh\n' >"$T/root/etc/passwd"
printf 'root:x:0:\nwww:x:33:\n' >"$T/root/etc/group"
mkdir -p "$T/lying/srv"
head -c 65536 /dev/urandom >"$T/lying/srv/blob"
(
  set -e
  cd "$T"
  umoci init --layout oci
  umoci new --image oci:bb
  umoci unpack --image oci:bb bundle
  cp -a root/. bundle/rootfs/
  umoci repack --image oci:bb bundle
  umoci config --image oci:bb --config.entrypoint /bin/sh --config.entrypoint -c \
    --config.entrypoint 'exec httpd -f -p "${PORT:-8080}" -h /www' \
    --config.exposedports 8080/tcp --config.env GREETING=image --config.workingdir /www
  umoci init --layout oci2
  umoci new --image oci2:lying
  umoci insert --image oci2:lying lying /
) >"$T/umoci.log" 2>&1 || { cat "$T/umoci.log"; echo "FAIL: umoci could not build the image"; exit 1; }

# ---- a registry on loopback
port=$(free_port)
[ "$port" -gt 0 ] || skip "no free loopback port"
cat >"$T/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/registry}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.05; done
curl -fs "http://127.0.0.1:$port/v2/" >/dev/null || { cat "$T/registry.log"; echo "FAIL: registry did not start"; exit 1; }

# push: every blob of the layout, then the manifest (OCI media type)
manifest_of() { sed -n 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$1/index.json" | head -1; }
push() { # push LAYOUT REPO TAG
  local dir=$1 base="http://127.0.0.1:$port/v2/$2" m loc f
  m=$(manifest_of "$dir")
  for f in "$dir"/blobs/sha256/*; do
    loc=$(curl -fsi -X POST "$base/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    case $loc in http*) ;; *) loc="http://127.0.0.1:$port$loc" ;; esac
    case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
    curl -fs -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$f" \
      "${loc}digest=sha256:$(basename "$f")" >/dev/null || return 1
  done
  curl -fs -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary "@$dir/blobs/sha256/$m" "$base/manifests/$3" >/dev/null
}
push "$T/oci" test/busybox v1 || { echo "FAIL: push"; exit 1; }
push "$T/oci2" test/lying v1 || { echo "FAIL: push (lying)"; exit 1; }
# the lying image: its one layer's stored bytes replaced; the registry serves
# them as they are, so the digest in the manifest no longer matches
m=$(manifest_of "$T/oci2")
ld=$(grep -o '"layers":\[[^]]*' "$T/oci2/blobs/sha256/$m" | grep -o 'sha256:[0-9a-f]*' | head -1)
ld=${ld#sha256:}
layer=$T/registry/docker/registry/v2/blobs/sha256/${ld:0:2}/$ld/data
[ -f "$layer" ] || { echo "FAIL: cannot find the registry's copy of layer $ld"; exit 1; }
head -c "$(stat -c %s "$layer")" /dev/urandom >"$T/garbage"
cat "$T/garbage" >"$layer"

export GPURUN_OCI_E2E_REF=127.0.0.1:$port/test/busybox:v1
export GPURUN_OCI_E2E_LYING_REF=127.0.0.1:$port/test/lying:v1
export GPURUN_OCI_E2E_HOME=$T/home
export GPURUN_OCI_E2E_STATE=$T/run
CMOCKA_MESSAGE_OUTPUT=stdout "$driver"
rc=$?
[ $rc -eq 0 ] || { echo "FAIL: driver exit $rc"; exit 1; }

# ---- nothing left behind (of this test's: other daemons may run meanwhile;
# each OCI host names its runtime root, namespaces and veths with 6 hex
# digits of its home's sha256)
left=0
tags=
for h in "$T/home" "$T/home-lying"; do
  tags="$tags${tags:+|}$(printf %s "$(realpath -m "$h")" | sha256sum | cut -c1-6)"
done
for d in "$T"/run/*/crun "$T"/run/*/runc; do
  [ -d "$d" ] && [ -n "$(ls -A "$d" 2>/dev/null)" ] && { echo "left: containers in $d: $(ls "$d")"; left=1; }
done
ip netns list 2>/dev/null | grep -Eq "^gpurun-($tags)-" && { echo "left: netns $(ip netns list | grep -E "^gpurun-($tags)-")"; left=1; }
ip -br link 2>/dev/null | grep -Eq "^g($tags)[0-9]" && { echo "left: veth"; left=1; }
grep -q " $T" /proc/self/mountinfo && { echo "left: mounts"; grep " $T" /proc/self/mountinfo; left=1; }
ls -d /sys/fs/cgroup/*/gpurun-oci/*-00001-abc /sys/fs/cgroup/gpurun-oci/*-00001-abc 2>/dev/null |
  grep -Eq '/(hello|hog|watched)-00001-abc$' && { echo "left: cgroups"; left=1; }
[ $left -eq 0 ] || { echo "FAIL: leftovers"; exit 1; }
echo "35-oci-busybox: ok"
