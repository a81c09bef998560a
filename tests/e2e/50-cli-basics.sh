#!/usr/bin/env bash
# The binary answers version/help and rejects an unknown verb with exit 2.
set -u
bin=${GPURUN_BIN:?}
out=$("$bin" version) || { echo "version failed"; exit 1; }
[[ $out == "gpurun version "* ]] || { echo "bad version output: $out"; exit 1; }
"$bin" help | grep -q '^Usage: gpurun' || { echo "help lacks usage"; exit 1; }
"$bin" no-such-verb >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || { echo "unknown verb exit $rc, want 2"; exit 1; }
"$bin" no-such-verb 2>&1 | grep -q "unknown command 'no-such-verb'" || { echo "no message"; exit 1; }
echo ok
