#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — `make fuzz`: builds every tests/fuzz/*_fuzz.c
# (each defines LLVMFuzzerTestOneInput) with clang's libFuzzer, ASan and
# UBSan against the library (every src/**/*.c but src/cli/main.c, built with
# the same sanitizers) into build-fuzz/, runs each for SECONDS (default 60)
# and exits non-zero if any finds a crash, a leak or undefined behaviour.
# Seeds come from tests/fuzz/<name>_seeds/ when present; the corpus grows in
# build-fuzz/corpus/<name>/, findings land in build-fuzz/<name>-crash-*.
# FUZZ=name1,name2 runs some targets only.
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz
cc=${FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "fuzz: $cc not found (apt-get install clang)"; exit 1; }
pkgs="libuv libcjson sqlite3 libcurl openssl libpcre2-8 yaml-0.1 libarchive"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (libFuzzer's convention) lowers
# work bounds such as the template step limit so slow inputs stay fast.
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Isrc $san $(pkg-config --cflags $pkgs 2>/dev/null)"
libs="$(pkg-config --libs $pkgs 2>/dev/null) -lhttp_parser -lwslay -lm -ldl -pthread"
mkdir -p "$out/obj"

# The library, with fuzzer coverage; a file that does not compile is left
# out with a warning (a target that needs it then fails to link).
newest_h=$(find src -name '*.h' -printf '%T@\n' | sort -n | tail -1)
objs=()
for src in $(find src -name '*.c' ! -path src/cli/main.c | sort); do
  obj=$out/obj/${src//\//_}.o
  isa=""
  case $src in
    *_avx512.c) isa="-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni" ;;
    *_avx2.c) isa="-mavx2 -mfma -mf16c" ;;
  esac
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] ||
     [ "$(stat -c %Y "$obj")" -lt "${newest_h%.*}" ]; then
    # shellcheck disable=SC2086
    if ! $cc $cflags $isa -fsanitize=fuzzer-no-link -c "$src" -o "$obj" 2>"$obj.log"; then
      echo "fuzz: warning: $src does not compile, left out (see $obj.log)"
      rm -f "$obj"
      continue
    fi
  fi
  objs+=("$obj")
done
rm -f "$out/libgpurun-fuzz.a"
ar rcs "$out/libgpurun-fuzz.a" "${objs[@]}"

status=0
for f in tests/fuzz/*_fuzz.c; do
  name=$(basename "$f" .c)
  if [ -n "${FUZZ:-}" ] && [[ ",$FUZZ," != *",$name,"* ]] && [[ ",$FUZZ," != *",${name%_fuzz},"* ]]; then
    continue
  fi
  # shellcheck disable=SC2086
  if ! $cc $cflags -fsanitize=fuzzer "$f" "$out/libgpurun-fuzz.a" $libs -o "$out/$name" 2>"$out/$name.build.log"; then
    echo "FAIL fuzz $name: does not build"; tail -5 "$out/$name.build.log"; status=1; continue
  fi
  corpus=$out/corpus/$name
  mkdir -p "$corpus"
  seeds=tests/fuzz/${name%_fuzz}_seeds
  [ -d "$seeds" ] || seeds=
  echo "== fuzz $name for ${secs}s"
  # shellcheck disable=SC2086
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$out/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$corpus" $seeds >"$out/$name.log" 2>&1
  rc=$?
  grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$out/$name.log" | tail -2 | sed 's/^/    /'
  if [ $rc -ne 0 ]; then
    echo "FAIL fuzz $name (exit $rc) — log: $out/$name.log"
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/$name.log" | head -10 | sed 's/^/    /'
    status=1
  else
    echo "ok   fuzz $name: no finding in ${secs}s"
  fi
done
exit $status
