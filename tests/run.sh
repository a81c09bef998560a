#!/usr/bin/env bash
# tests/run.sh BUILD [unit|e2e] — runs the unit test programs and the e2e
# scripts, prints each result, and ends with "N passed, N failed, N skipped".
# Unit programs are cmocka groups: each test case counts once. An e2e script
# counts once: exit 0 passes, exit 77 skips (its last line says why), any
# other exit fails. Run from the repository root.
set -u
build=${1:-build}
what=${2:-all}
pass=0 fail=0 skip=0
failed=()
logdir=$build/test-logs
mkdir -p "$logdir"
export GPURUN_BIN=$PWD/$build/gpurun
export GPURUN_BUILD=$PWD/$build
export GPURUN_TEST_MODELS=${GPURUN_TEST_MODELS:-$(cd .. && pwd)/shared/models}
timeout_s=${TEST_TIMEOUT:-300}

run_unit() {
  local bin=$1 name log p f s
  name=${bin#"$build"/tests/}
  log=$logdir/${name//\//_}.log
  local t0=$SECONDS
  CMOCKA_MESSAGE_OUTPUT=stdout timeout "$timeout_s" "$bin" >"$log" 2>&1
  local rc=$? dt=$((SECONDS - t0))
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  p=${p:-0} f=${f:-0} s=${s:-0}
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or timed out
  pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
  if [ "$f" -gt 0 ]; then
    failed+=("$name")
    echo "FAIL unit $name ($p passed, $f failed, ${dt}s) — log: $log"
    grep -E '^\[  (FAILED|ERROR) |error|Assert|ERROR|runtime error|Sanitizer' "$log" | head -20 | sed 's/^/    /'
  else
    echo "ok   unit $name ($p passed, $s skipped, ${dt}s)"
    grep -h '^SKIP' "$log" | sort -u | head -5 | sed 's/^/    /'
  fi
}

run_e2e() {
  local t=$1 name log rc
  name=$(basename "$t")
  log=$logdir/e2e_$name.log
  local t0=$SECONDS
  case $t in
    *.mjs) timeout "$timeout_s" node "$t" >"$log" 2>&1 ;;
    *) timeout "$timeout_s" bash "$t" >"$log" 2>&1 ;;
  esac
  rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "ok   e2e  $name (${dt}s)"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); echo "SKIP e2e  $name: $(tail -1 "$log")"
  else
    fail=$((fail + 1)); failed+=("$name")
    echo "FAIL e2e  $name (exit $rc, ${dt}s) — log: $log"
    tail -15 "$log" | sed 's/^/    /'
  fi
}

if [ "$what" = all ] || [ "$what" = unit ]; then
  for bin in $(find "$build/tests" -type f -perm -u+x -name '*_test' 2>/dev/null | sort); do
    run_unit "$bin"
  done
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
  # the real npm clients (ollama, openai, ws) the .mjs tests drive
  if [ ! -d tests/e2e/node_modules ] && command -v npm >/dev/null; then
    (cd tests/e2e && npm ci --no-audit --no-fund >/dev/null 2>&1) || echo "warning: npm ci failed; .mjs tests will skip"
  fi
  for t in $(ls tests/e2e/*.sh tests/e2e/*.mjs 2>/dev/null | sort); do
    run_e2e "$t"
  done
fi
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
