#!/usr/bin/env bash
# make lint — the include-direction rule of DESIGN.md, the size limits of
# CONVENTIONS.md, and clang-tidy. Fails on an upward/sideways include, a
# file over 1,500 lines or a function over 120; reports the softer limits.
set -u
cd "$(dirname "$0")/.."
status=0

# Allowed arrows, transitively downward:
#   cli -> platform, ollama -> engine -> gguf -> base; platform, ollama -> http -> base
allowed() {
  case $1 in
    base) echo "base" ;;
    gguf) echo "gguf base" ;;
    engine) echo "engine gguf base" ;;
    http) echo "http base" ;;
    ollama) echo "ollama engine gguf http base" ;;
    platform) echo "platform http base" ;;
    cli) echo "cli platform ollama engine gguf http base" ;;
    *) echo "" ;;
  esac
}

echo "== include direction"
while IFS= read -r f; do
  mod=$(echo "$f" | cut -d/ -f2)
  ok=$(allowed "$mod")
  while IFS= read -r inc; do
    dep=${inc%%/*}
    [ "$dep" = "$inc" ] && continue   # same-folder include without a path
    case " $ok " in *" $dep "*) ;; *)
      echo "  $f includes \"$inc\": $mod may not include $dep"; status=1 ;;
    esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done < <(find src -name '*.[ch]' | sort)

echo "== file sizes (aim < 800 lines, never > 1500)"
while read -r n f; do
  [ "$f" = total ] && continue
  if [ "$n" -gt 1500 ]; then echo "  FAIL $f: $n lines"; status=1
  elif [ "$n" -gt 800 ]; then echo "  warn $f: $n lines"; fi
done < <(find src -name '*.[ch]' -print0 | xargs -0 wc -l | sort -rn)

echo "== function sizes (aim < 60 lines, never > 120)"
# Kernel style: a function body opens with "{" alone in column 0 and closes with "}".
for f in $(find src -name '*.c' | sort); do
  awk -v file="$f" '
    /^[A-Za-z_].*\(/ { sig = $0; sigline = NR }
    /^\{/ { start = NR; name = sig }
    /^\}/ && start { len = NR - start - 1
      if (len > 120) { printf "  FAIL %s:%d %d lines: %s\n", file, sigline, len, name; bad = 1 }
      else if (len > 60) printf "  warn %s:%d %d lines: %s\n", file, sigline, len, name
      start = 0 }
    END { exit bad }' "$f" || status=1
done

if command -v clang-tidy >/dev/null 2>&1 && [ "${LINT_TIDY:-1}" = 1 ]; then
  echo "== clang-tidy (report only)"
  cflags="-std=c11 -Isrc -D_GNU_SOURCE $(pkg-config --cflags libuv libcjson 2>/dev/null)"
  find src -name '*.c' ! -name '*_avx*' -print0 | sort -z | xargs -0 -n 8 -P 2 \
    clang-tidy -quiet --checks='-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-narrowing-conversions,-bugprone-reserved-identifier,-bugprone-assignment-in-if-condition,clang-analyzer-*,-clang-analyzer-security.insecureAPI.*' \
    2>/dev/null -- $cflags | grep -E 'warning:|error:' | sed 's/^/  /' | head -100
fi

[ $status -eq 0 ] && echo "lint: ok" || echo "lint: FAILED"
exit $status
