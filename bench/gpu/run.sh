#!/usr/bin/env bash
# bench/gpu/run.sh [BUILD] — the GPU benchmark (docs/gpu.md): TinyLlama-1.1B
# shaped random-weight models made by `gpurun synth` (Q4_0, Q8_0, Q4_K_M,
# F16), each run by bench/gpu/gpu_bench.c with every layer on the GPU:
# prefill (pp512) and decode (tg128) tokens/s, decode weight traffic as a
# share of the measured device copy bandwidth, and the time from process
# start to the first token with the model file in the page cache. Decode
# runs with and without CUDA graphs (GPURUN_CUDA_GRAPH=0). Writes
# BUILD/gpu-bench/results.md and the "GPU (CUDA)" section of
# docs/benchmarks.md (GPU_BENCH_NO_DOCS=1: not). On a machine without a
# usable GPU it says why and exits 0.
# Env: GPU_BENCH_TYPES (default "Q4_0 Q8_0 Q4_K_M F16"), GPU_BENCH_MODELS
# (folder for the models, default BUILD/gpu-bench/models), GPU_BENCH_REPS (3),
# GPU_BENCH_SYNTH_ARGS (`gpurun synth` flags for another shape; default: the
# 1.1B shape, written by gpu_bench --synth), GPU_BENCH_BIN (a prebuilt gpu_bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-${GPURUN_BUILD:-build}}
build=${build%/}
bin=$build/gpurun
out=$build/gpu-bench
models=${GPU_BENCH_MODELS:-$out/models}
types=${GPU_BENCH_TYPES:-Q4_0 Q8_0 Q4_K_M F16}
reps=${GPU_BENCH_REPS:-3}
if [ ! -f "$build/libgpurun.a" ] && [ -z "${GPU_BENCH_BIN:-}" ]; then
  echo "bench gpu: make $build first"
  exit 1
fi
mkdir -p "$out" "$models"

if [ -n "${GPU_BENCH_BIN:-}" ]; then # prebuilt (a GPU machine without a compiler setup)
  cp "$GPU_BENCH_BIN" "$out/gpu_bench"
else
  cc -std=c11 -O2 -D_GNU_SOURCE -Isrc bench/gpu/gpu_bench.c "$build/libgpurun.a" \
    -Wl,--as-needed -lcjson -lpcre2-8 -lm -ldl -pthread -o "$out/gpu_bench"
fi
read -r -a synth_args <<<"${GPU_BENCH_SYNTH_ARGS:-}"
read -r -a type_list <<<"$types"

if ! why=$("$out/gpu_bench" --probe); then
  echo "bench gpu: no usable GPU ($why); skipped"
  exit 0
fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
      | head -1 || true)
res=$out/results.md
{
  echo "Machine: ${gpu:-no nvidia-smi}; $(nproc) CPUs; $(date -u +%Y-%m-%d)."
  echo "Command: \`bench/gpu/run.sh\` (gpu_bench MODEL -p 512 -n 128 -r $reps --gpu 999)."
  echo
  echo "| model | backend | pp512 tok/s | tg128 tok/s | tg128, no graphs | MiB/token | decode GB/s | share of copy bandwidth | start → first token |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$res"

kv() { sed -n "s/^$1=//p" "$2" | head -1; }
for t in "${type_list[@]}"; do
  m=$models/tinyllama-$t.gguf
  if [ ! -f "$m" ] && [ ${#synth_args[@]} -eq 0 ]; then
    "$out/gpu_bench" --synth "$m" "$t"
  elif [ ! -f "$m" ]; then
    "$bin" synth "$m" --type "$t" "${synth_args[@]}" >/dev/null
  fi
  cat "$m" >/dev/null # in the page cache, as the target assumes
  t0=$(date +%s%N)
  "$out/gpu_bench" "$m" -p 512 -n 128 -r "$reps" --gpu 999 --t0 "$t0" >"$out/$t.txt"
  GPURUN_CUDA_GRAPH=0 "$out/gpu_bench" "$m" -p 16 -n 128 -r "$reps" --gpu 999 >"$out/$t-nograph.txt"
  f=$out/$t.txt
  if [ "$(kv backend "$f" | cut -c1-4)" != cuda ]; then
    echo "bench gpu: $t ran on $(kv backend "$f") ($(kv backend_note "$f"))"
    exit 1
  fi
  printf '| %s | %s | %s ± %s | %s ± %s | %s | %s | %s | %s | %s ms |\n' \
    "$t" "$(kv backend "$f")" "$(kv pp_tok_s "$f")" "$(kv pp_tok_s_sd "$f")" \
    "$(kv tg_tok_s "$f")" "$(kv tg_tok_s_sd "$f")" "$(kv tg_tok_s "$out/$t-nograph.txt")" \
    "$(kv bytes_per_token_mib "$f")" "$(kv decode_gbps "$f")" "$(kv share_of_copy_bw "$f")" \
    "$(kv start_to_first_token_ms "$f")" >>"$res"
done
f=$out/${type_list[0]}.txt
echo >>"$res"
echo "Device copy bandwidth (1 GiB device-to-device, read + write): $(kv copy_gbps "$f") GB/s;" \
     "theoretical peak from clock and bus width: $(kv hbm_peak_gbps "$f") GB/s." >>"$res"
cat "$res"

if [ "${GPU_BENCH_NO_DOCS:-0}" != 1 ]; then
  doc=docs/benchmarks.md
  tmp=$(mktemp)
  awk '/^<!-- gpu-bench begin -->/{skip=1} !skip{print} /^<!-- gpu-bench end -->/{skip=0}' "$doc" >"$tmp"
  { echo "<!-- gpu-bench begin -->"; echo "## GPU (CUDA)"; echo; cat "$res";
    echo "<!-- gpu-bench end -->"; } >>"$tmp"
  mv "$tmp" "$doc"
fi
