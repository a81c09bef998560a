#!/usr/bin/env bash
# image.sh — `make image`: the gpurun/ollama OCI image, built with umoci (no
# Docker engine): one layer holding /usr/local/bin/gpurun, exactly the shared
# libraries ldd says it needs (each with its symlink chain) and the dynamic
# loader, /etc/ssl/certs for TLS pulls, a minimal /etc/passwd and /etc/group.
# Entrypoint `gpurun serve` on 0.0.0.0:11434 (PORT, which the platform sets,
# overrides the port), models read from /var/lib/gpurun/models: where the
# daemon mounts its model store, read-only (docs/oci.md). It does not carry
# the NVIDIA driver: the platform mounts it in for --gpu (CDI-style).
#
# Usage: scripts/image.sh [--bin PATH] [--out DIR] [--tag NAME:TAG] [--push REF]
#   --bin   the binary to package (default build/gpurun)
#   --out   the image's folder (default build/image); the OCI layout is DIR/oci
#   --tag   the layout's tag (default gpurun/ollama:latest)
#   --push  HOST[:PORT]/REPO[:TAG]: also upload it (registry API v2; skopeo
#           when installed, else curl; plain http to loopback registries)
set -euo pipefail
bin=build/gpurun
out=build/image
tag=gpurun/ollama:latest
push=
while [ $# -gt 0 ]; do
  case $1 in
  --bin) bin=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --tag) tag=$2; shift 2 ;;
  --push) push=$2; shift 2 ;;
  -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "image: $*" >&2; exit 1; }
for c in umoci ldd sha256sum; do
  command -v "$c" >/dev/null || die "$c is not installed (scripts/deps.sh)"
done
[ -x "$bin" ] || die "$bin is not built (make)"
file -L "$bin" 2>/dev/null | grep -q 'ELF 64-bit.*x86-64' || die "$bin is not an x86-64 ELF binary"
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/work
rm -rf "$work" "$out/oci"
mkdir -p "$work/root"
root=$work/root

# copy_file PATH: PATH into the rootfs at the same place; a symlink is copied
# as a symlink and its target follows (the soname -> real file chain). The
# folder is resolved first, so /lib/x86_64-linux-gnu/X lands in
# /usr/lib/x86_64-linux-gnu/X and the /lib -> usr/lib link (below) finds it.
copy_file() {
  local p=$1 dir base t
  dir=$(realpath -e "$(dirname "$p")") || die "no folder for $p"
  base=$(basename "$p")
  p=$dir/$base
  [ -e "$root$p" ] || [ -L "$root$p" ] && return 0
  mkdir -p "$root$dir"
  if [ -L "$p" ]; then
    cp -P "$p" "$root$p"
    t=$(readlink "$p")
    case $t in /*) copy_file "$t" ;; *) copy_file "$dir/$t" ;; esac
  else
    cp -p "$p" "$root$p"
  fi
}

# the merged-/usr links of the host (Debian 12: /lib -> usr/lib, /lib64 -> usr/lib64)
for l in lib lib64 bin sbin; do
  [ -L "/$l" ] && ln -s "$(readlink "/$l")" "$root/$l"
done
mkdir -p "$root/usr/local/bin"
cp -p "$bin" "$root/usr/local/bin/gpurun"
# "libX.so.N => /path (addr)" and the loader's "/lib64/ld-linux-x86-64.so.2 (addr)"
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || die "ldd found no libraries for $bin (a static binary needs no image work)"
if ldd "$bin" | grep -q 'not found'; then
  die "$bin needs libraries this machine lacks: $(ldd "$bin" | grep 'not found' | tr -s ' \t' ' ')"
fi
n_libs=0
for l in $libs; do
  copy_file "$l"
  n_libs=$((n_libs + 1))
done
# the loader looks in its own trusted folders; the multiarch ones are listed
# in ld.so.conf, so give the image the same list and a cache built from it
mkdir -p "$root/etc/ld.so.conf.d"
printf '/usr/local/lib\n/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu\n' \
  >"$root/etc/ld.so.conf.d/x86_64-linux-gnu.conf"
printf 'include /etc/ld.so.conf.d/*.conf\n' >"$root/etc/ld.so.conf"
if [ "$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then
  ldconfig -r "$root" 2>/dev/null || true
fi
# CA certificates for pulls over TLS (libcurl's default bundle path)
if [ -d /etc/ssl/certs ]; then
  mkdir -p "$root/etc/ssl/certs"
  [ -f /etc/ssl/certs/ca-certificates.crt ] &&
    cp -pL /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
fi
printf 'root:x:0:0:root:/root:/usr/local/bin/gpurun\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
mkdir -p "$root/root" "$root/tmp" "$root/var/lib/gpurun/models"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"

rootless=()
[ "$(id -u)" -eq 0 ] || rootless=(--rootless)
(
  cd "$work"
  umoci init --layout "$out/oci"
  umoci new --image "$out/oci:$tag"
  umoci unpack "${rootless[@]}" --image "$out/oci:$tag" bundle
  cp -a root/. bundle/rootfs/
  umoci repack --image "$out/oci:$tag" bundle
  umoci config --image "$out/oci:$tag" --os linux --architecture amd64 \
    --config.entrypoint /usr/local/bin/gpurun --config.entrypoint serve \
    --config.env GPURUN_HOST=0.0.0.0:11434 \
    --config.env GPURUN_MODELS=/var/lib/gpurun/models \
    --config.env GPURUN_HOME=/root/.gpurun --config.env HOME=/root \
    --config.exposedports 11434/tcp --config.workingdir / \
    --config.label org.opencontainers.image.title=gpurun/ollama
  umoci gc --layout "$out/oci"
) >"$out/umoci.log" 2>&1 || { cat "$out/umoci.log" >&2; die "umoci failed"; }
rm -rf "$work"
# the manifest of TAG in the layout, by its ref-name annotation
man=$(tr '{' '\n' <"$out/oci/index.json" | grep -B1 "\"org.opencontainers.image.ref.name\":\"$tag\"" |
  sed -n 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' | head -1)
[ -n "$man" ] && [ -f "$out/oci/blobs/sha256/$man" ] || die "no manifest for $tag in $out/oci"
size=$(du -sk "$out/oci/blobs" | cut -f1)
echo "image: $out/oci:$tag (sha256:$man; $n_libs libraries; ${size} KiB of blobs)"

[ -n "$push" ] || exit 0

# ---- push: REF = HOST[:PORT]/REPO[:TAG]
host=${push%%/*}
rest=${push#*/}
[ "$host" != "$push" ] && [ -n "$rest" ] || die "--push wants HOST[:PORT]/REPO[:TAG], got '$push'"
repo=${rest%:*}
ptag=${rest##*:}
[ "$repo" != "$rest" ] || { repo=$rest; ptag=latest; }
case $host in
127.* | localhost | localhost:* | "[::1]"*) scheme=http ;;
*) scheme=https ;;
esac
if command -v skopeo >/dev/null; then
  tls=()
  [ $scheme = http ] && tls=(--dest-tls-verify=false)
  skopeo copy "${tls[@]}" "oci:$out/oci:$tag" "docker://$host/$repo:$ptag" ||
    die "skopeo could not push to $push"
  echo "image: pushed to $push"
  exit 0
fi
command -v curl >/dev/null || die "curl is not installed"
base=$scheme://$host/v2/$repo
mfile=$out/oci/blobs/sha256/$man
# every blob the manifest names (config and layers), each skipped if present
for d in $(grep -o 'sha256:[0-9a-f]\{64\}' "$mfile" | sort -u); do
  f=$out/oci/blobs/sha256/${d#sha256:}
  [ -f "$f" ] || die "blob $d is missing from the layout"
  code=$(curl -s -o /dev/null -w '%{http_code}' -I "$base/blobs/$d")
  [ "$code" = 200 ] && continue
  loc=$(curl -fsSi -X POST "$base/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p') ||
    die "registry $host refused to start an upload to $repo"
  [ -n "$loc" ] || die "registry $host gave no upload location"
  case $loc in http*) ;; *) loc="$scheme://$host$loc" ;; esac
  case $loc in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
  curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$f" \
    "${loc}digest=$d" >/dev/null || die "upload of blob $d to $push failed"
done
curl -fsS -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary "@$mfile" "$base/manifests/$ptag" >/dev/null || die "manifest upload to $push failed"
echo "image: pushed to $push (sha256:$man)"
