#!/usr/bin/env bash
# bench/context/run.sh — the engine at long context (issue 7): prefill and
# decode with tokens already in the KV cache (`gpurun bench -d N`, as
# llama-bench's -d), against the same runs at depth 0, on the synthetic
# TinyLlama-1.1B-shape models of bench/engine (written there, or here when
# absent). Decode at depth reads the cache besides the weights; the table
# gives the ratio those bytes alone would predict, weights / (weights +
# cache read), so what attention costs beyond its bytes shows. Each depth
# runs twice (in order, then in reverse) and counts the mean. Writes the
# "Engine at long context" section of docs/benchmarks.md.
# Env: GPURUN_BIN (default build/gpurun), BENCH_THREADS (2), BENCH_P (512),
# BENCH_N (32), BENCH_DEPTHS ("0 2048 4096"), BENCH_CONTEXT_TYPES
# ("Q4_0 Q4_K_M").
set -eu
cd "$(dirname "$0")/../.."
. bench/lib.sh
bin=${GPURUN_BIN:-$PWD/build/gpurun}
threads=${BENCH_THREADS:-2}
np=${BENCH_P:-512}
ng=${BENCH_N:-32}
depths=${BENCH_DEPTHS:-0 2048 4096}
types=${BENCH_CONTEXT_TYPES:-Q4_0 Q4_K_M}
models=build/bench-models
out=docs/benchmarks.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$models"

for t in $types; do
  f=$models/synth-1.1b-$t.gguf
  if [ ! -s "$f" ]; then
    echo "bench/context: writing $f"
    "$bin" synth --type "$t" "$f" >"$tmp/synth-$t.log"
  fi
done

# Two passes over the depths, the second in reverse order: a machine whose
# speed drifts during the sweep moves both ends of a ratio alike.
reverse() { echo "$1" | tr ' ' '\n' | tac | tr '\n' ' '; }
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for t in $types; do
  for d in $depths $(reverse "$depths"); do
    "$bin" bench "$models/synth-1.1b-$t.gguf" -p "$np" -n "$ng" -d "$d" -t "$threads" -r 1 |
      tee -a "$tmp/$t-$d.txt"
  done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# mean tokens/s of test $2 ("pp512", "tg32 @ d2048") over bench output $1
tps() {
  awk -F'|' -v t="$2" '{ x = $7; gsub(/^ +| +$/, "", x) }
    x == t { s += $8; n++ } END { if (n) printf "%.2f\n", s / n }' "$1"
}
# MiB figure $2 ("weights read per token", "KV cache") of bench output $1
info() { sed -n "s/.*$2 \([0-9.]*\) MiB.*/\1/p" "$1" | head -1; }
name() { if [ "$2" = 0 ]; then echo "$1"; else echo "$1 @ d$2"; fi; }
base=${depths%% *}

{
  echo "## Engine at long context (bench/context)"
  echo
  echo "Prefill and decode with tokens already in the KV cache, measured by"
  echo "\`BENCH=context make bench\` on $(date -u +%Y-%m-%d) on the machine of the engine"
  echo "section ($(nproc) cores; load average before: $load0, after: $load1): per model and"
  echo "depth D, \`gpurun bench MODEL -p $np -n $ng -d D -t $threads -r 1\` (each test after D"
  echo "tokens were put in the F16 cache, untimed, as llama-bench's \`-d\`), twice: the depths"
  echo "in order, then in reverse; tokens/s are the means of the two. Ratios are to"
  echo "depth $base in the same run. \"From bytes\" is the decode ratio the cache's extra"
  echo "bytes alone would give: weights / (weights + the cache read per token)."
  echo
  echo "| type | depth | pp$np tok/s | ratio | tg$ng tok/s | ratio | from bytes |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for t in $types; do
    pp0=$(tps "$tmp/$t-$base.txt" "$(name "pp$np" "$base")")
    tg0=$(tps "$tmp/$t-$base.txt" "$(name "tg$ng" "$base")")
    for d in $depths; do
      r=$tmp/$t-$d.txt
      awk -v t="$t" -v d="$d" -v pp="$(tps "$r" "$(name "pp$np" "$d")")" \
        -v tg="$(tps "$r" "$(name "tg$ng" "$d")")" -v pp0="$pp0" -v tg0="$tg0" \
        -v w="$(info "$r" "weights read per token")" -v kv="$(info "$r" "KV cache")" \
        -v ctx="$((d + np + ng))" -v ng="$ng" 'BEGIN {
        rd = kv * (d + 0.5 * ng) / ctx; # the cache a decode step reads, MiB
        printf "| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", t, d, pp,
          (pp0 > 0 ? pp / pp0 : 0), tg, (tg0 > 0 ? tg / tg0 : 0), w / (w + rd) }'
    done
  done
} >"$tmp/section.md"

bench_section "Engine at long context" "$tmp/section.md"
echo "bench/context: wrote the long-context section of $out"
