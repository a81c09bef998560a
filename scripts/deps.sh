#!/usr/bin/env bash
# Installs the Debian packages gpurun builds, tests and benchmarks with
# (DESIGN.md "Dependencies"), skipping what is already present.
# Usage: scripts/deps.sh [--bench]   (--bench adds the benchmark-only tools)
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libuv1-dev libhttp-parser-dev libwslay-dev libcjson-dev libsqlite3-dev
  libcurl4-openssl-dev libssl-dev libpcre2-dev libyaml-dev libarchive-dev
  libcmocka-dev
  curl docker-registry
  crun runc umoci busybox-static iproute2   # OCI image instances (issue 6) and their e2e test
)
# Node.js with npm drives the real-client tests; a nodesource build bundles npm,
# Debian's splits it, so ask for the commands rather than for package names.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(wrk nginx-light hyperfine)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# an update only when the lists are missing or a package cannot be found
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
