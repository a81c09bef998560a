#!/usr/bin/env bash
# make bench — runs every bench/<name>/run.sh in turn (each writes its own
# section of docs/benchmarks.md). BENCH=name1,name2 picks some.
set -u
build=${1:-build}
export GPURUN_BIN=$PWD/$build/gpurun GPURUN_BUILD=$PWD/$build
export GPURUN_TEST_MODELS=${GPURUN_TEST_MODELS:-$(cd .. && pwd)/shared/models}
status=0
for d in bench/*/; do
  name=$(basename "$d")
  [ -x "$d/run.sh" ] || continue
  if [ -n "${BENCH:-}" ] && [[ ",$BENCH," != *",$name,"* ]]; then continue; fi
  echo "== bench $name"
  "$d/run.sh" || { echo "bench $name failed"; status=1; }
done
exit $status
