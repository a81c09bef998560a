#!/usr/bin/env bash
# bench/engine/ab.sh — compares two gpurun binaries (or one binary under two
# environments) on one model by alternating them: on these shared cores the
# same binary's tokens/s moves by up to 2x from minute to minute, so only
# runs taken back to back, many times over, say which is faster; A runs
# first in odd rounds and B in even ones, since the second run of a pair
# can be the slower. Prints each pair, both means and the median of the
# per-pair ratios B/A.
# Usage: bench/engine/ab.sh A B MODEL [ROUNDS] [gpurun bench args...]
#   A, B: a path to a gpurun binary, or "ENV=value[,ENV=value]:BINARY" to
#   run it with those variables (e.g. GPURUN_PACK=0:build/gpurun).
#   ROUNDS: pairs to run (default 6); bench args default to
#   "-p 0 -n 64 -t 2 -r 1" (decode); "-p 512 -n 0 -t 2 -r 1" for prefill.
# Example: bench/engine/ab.sh GPURUN_PACK=0:build/gpurun build/gpurun \
#            build/bench-models/synth-1.1b-Q4_0.gguf 8
set -eu
if [ $# -lt 3 ]; then
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
a=$1 b=$2 model=$3
rounds=${4:-6}
shift $(($# < 4 ? $# : 4))
args=${*:-"-p 0 -n 64 -t 2 -r 1"}

# tokens/s of one run of side $1 ("ENV=v,...:BIN" or "BIN")
run() {
  local side=$1 bin=$1 envs=()
  if [[ $side == *=*:* ]]; then
    bin=${side#*:}
    IFS=, read -r -a envs <<<"${side%%:*}"
  fi
  # shellcheck disable=SC2086
  env "${envs[@]}" "$bin" bench "$model" $args |
    awk -F'|' '/\| *(pp|tg)[0-9]+( @ d[0-9]+)? *\|/ { split($8, v, " "); print v[1]; exit }'
}

pairs=()
for ((i = 1; i <= rounds; i++)); do
  # A first in odd rounds, B first in even ones: the second run of a
  # pair can be slower (measured: 0.94 for one binary against itself)
  if ((i % 2)); then
    ta=$(run "$a") tb=$(run "$b")
  else
    tb=$(run "$b") ta=$(run "$a")
  fi
  if [ -z "$ta" ] || [ -z "$tb" ]; then
    echo "ab: a run printed no tokens/s" >&2
    exit 1
  fi
  printf 'round %d: A %s  B %s  B/A %.3f\n' "$i" "$ta" "$tb" "$(echo "$tb $ta" | awk '{ print $1 / $2 }')"
  pairs+=("$ta $tb")
done
ratios=$(printf '%s\n' "${pairs[@]}" | awk '{ print $2 / $1 }' | sort -g)
printf '%s\n' "${pairs[@]}" | awk -v a="$a" -v b="$b" -v rs="$ratios" '
  { sa += $1; sb += $2 }
  END {
    n = split(rs, r, "\n")
    med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
    printf "A (%s): mean %.2f tok/s\nB (%s): mean %.2f tok/s\n", a, sa / NR, b, sb / NR
    printf "B/A: median of %d pairs %.3f, ratio of means %.3f\n", n, med, sb / sa
  }'
