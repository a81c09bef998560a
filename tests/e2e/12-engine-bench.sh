#!/usr/bin/env bash
# `gpurun bench` prints llama-bench-style rows for a model (pp and tg, mean
# ± sd; with -d, after that many tokens in the cache, named as
# llama-bench's "pp16 @ d32"), `--bandwidth` a read-bandwidth table, `--kernels` decode's
# kernels streaming each weight type beside the read rate, `--fma` the f32 FMA peak
# (on AVX-512 CPUs; elsewhere a clear error) and `--amx` the AMX-BF16 tile
# peak with its slowest thread (where the OS grants AMX; with GPURUN_AMX=0
# a clear error); bad flags exit 2.
set -u
bin=${GPURUN_BIN:?}
model=${GPURUN_TEST_MODELS:-}/stories260K-Q8_0.gguf
[ -r "$model" ] || { echo "SKIP: $model missing (test models not installed)"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

out=$("$bin" bench "$model" -p 16 -n 8 -t 2 -r 2) || fail "bench exit $?"
grep -Eq '^\| .* \|  *pp16 \| *[0-9.]+ ± +[0-9.]+ \|$' <<<"$out" || fail "no pp16 row: $out"
grep -Eq '^\| .* \|  *tg8 \| *[0-9.]+ ± +[0-9.]+ \|$' <<<"$out" || fail "no tg8 row: $out"
grep -q 'weights read per token' <<<"$out" || fail "no model details: $out"

out=$("$bin" bench "$model" -p 16 -n 8 -d 32 -t 2 -r 2) || fail "bench -d exit $?"
grep -Eq '^\| .* \|  *pp16 @ d32 \| *[0-9.]+ ± +[0-9.]+ \|$' <<<"$out" || fail "no pp16 @ d32 row: $out"
grep -Eq '^\| .* \|  *tg8 @ d32 \| *[0-9.]+ ± +[0-9.]+ \|$' <<<"$out" || fail "no tg8 @ d32 row: $out"

out=$("$bin" bench --bandwidth --bw-size 16 -t 2) || fail "bandwidth exit $?"
[ "$(grep -c '^| read (best of 5) ' <<<"$out")" -eq 2 ] || fail "bandwidth rows: $out"

out=$("$bin" bench --kernels --bw-size 16 -t 2) || fail "kernels exit $?"
awk -F'|' '$3 + 0 >= 1 && $4 + 0 > 0 && $5 + 0 > 0 && $6 ~ /%/ { n++ } END { exit n == 10 ? 0 : 1 }' \
  <<<"$out" || fail "kernel rows: $out"

if grep -qw avx512f /proc/cpuinfo; then
  out=$("$bin" bench --fma -t 2) || fail "fma exit $?"
  awk -F'|' '$2 ~ /f32 fma/ && $3 + 0 >= 1 && $4 + 0 > 0 { n++ } END { exit n == 2 ? 0 : 1 }' \
    <<<"$out" || fail "fma rows: $out"
else
  "$bin" bench --fma -t 1 >/dev/null 2>"${TMPDIR:-/tmp}/fma.err.$$"; rc=$?
  [ $rc -eq 1 ] && grep -q 'AVX-512' "${TMPDIR:-/tmp}/fma.err.$$" || fail "fma without AVX-512: exit $rc"
  rm -f "${TMPDIR:-/tmp}/fma.err.$$"
fi

if grep -qw amx_bf16 /proc/cpuinfo; then
  out=$("$bin" bench --amx -t 2) || fail "amx exit $?"
  awk -F'|' '$2 ~ /amx bf16/ && $3 + 0 >= 1 && $4 + 0 > 0 && $5 + 0 > 0 && $5 <= $4 + 0.05 { n++ }
    END { exit n == 2 ? 0 : 1 }' <<<"$out" || fail "amx rows: $out"
fi
GPURUN_AMX=0 "$bin" bench --amx -t 1 >/dev/null 2>"${TMPDIR:-/tmp}/amx.err.$$"; rc=$?
[ $rc -eq 1 ] && grep -q 'AMX-BF16' "${TMPDIR:-/tmp}/amx.err.$$" || fail "amx off: exit $rc"
rm -f "${TMPDIR:-/tmp}/amx.err.$$"

"$bin" bench "$model" -r 0 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "-r 0: exit $rc, want 2"
"$bin" bench "$model" -d -1 >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "-d -1: exit $rc, want 2"
"$bin" bench >/dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "no model: exit $rc, want 2"
echo ok
