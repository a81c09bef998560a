#!/usr/bin/env bash
# bench/gpu/device.sh — the whole GPU check in one device call (docs/gpu.md):
# nvidia-smi, the CUDA tests and the engine's model tests (their models run
# on the GPU by default), then the benchmark (bench/gpu/run.sh) with the
# prebuilt gpu_bench. Reads .gpu-carry/ (bench/gpu/pack.sh, carried) and
# writes at most 4 files to $OUT: tests.log, bench.md, bench-raw.txt,
# summary.txt. Run from the repository root.
set -uo pipefail
c=$PWD/.gpu-carry
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
export LD_LIBRARY_PATH=$c/lib GPURUN_TEST_MODELS=$c/models CMOCKA_MESSAGE_OUTPUT=stdout
sum=$out/summary.txt
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.mem --format=csv || true; } >"$sum"
for t in cuda_test cuda_host_test model_test arch_test arch_quant_test generate_test; do
  start=$(date +%s)
  timeout 300 "$c/bin/$t" >"$out/$t.log" 2>&1
  rc=$?
  echo "$t rc=$rc $(($(date +%s) - start))s $(grep -E '^\[  (PASSED|FAILED|SKIPPED) +\] [0-9]+ test' "$out/$t.log" | tr '\n' ' ')" >>"$sum"
  if [ "$t" = cuda_test ] && [ $rc -ne 0 ]; then # isolate the graphs
    GPURUN_CUDA_GRAPH=0 timeout 300 "$c/bin/$t" >"$out/$t-nograph.log" 2>&1
    echo "$t without graphs rc=$?" >>"$sum"
  fi
done
cat "$out"/*.log >"$out/tests.log.tmp" && rm -f "$out"/*.log && mv "$out/tests.log.tmp" "$out/tests.log"
GPU_BENCH_BIN=$c/bin/gpu_bench GPU_BENCH_NO_DOCS=1 timeout 420 bench/gpu/run.sh /tmp/gpu-bench-build \
  >>"$sum" 2>&1
echo "bench rc=$?" >>"$sum"
cp /tmp/gpu-bench-build/gpu-bench/results.md "$out/bench.md" 2>/dev/null
cat /tmp/gpu-bench-build/gpu-bench/*.txt >"$out/bench-raw.txt" 2>/dev/null
cat "$sum"
