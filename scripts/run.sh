#!/usr/bin/env bash
# make run — starts gpurun for a newcomer. Until the platform daemon lands,
# this is the model server (`gpurun serve`, Ollama's API on 127.0.0.1:11434).
set -eu
bin=${1:-build/gpurun}
if "$bin" help 2>/dev/null | grep -q '^  daemon '; then
  exec "$bin" daemon
fi
if "$bin" help 2>/dev/null | grep -q '^  serve '; then
  exec "$bin" serve
fi
echo "gpurun: neither 'daemon' nor 'serve' is built yet; try: $bin help" >&2
exit 1
