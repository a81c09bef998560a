# shellcheck shell=bash
# bench/lib.sh — what the bench/*/run.sh scripts share; sourced, from the
# repository root.

# bench_section HEADING FILE: the section of docs/benchmarks.md whose
# heading line starts with "## HEADING" (up to the next "## " heading)
# becomes FILE's text, followed by a blank line; appended when the document
# has no such section (the document is started when missing).
bench_section() {
  local doc=docs/benchmarks.md new
  [ -f "$doc" ] || printf '# Benchmarks\n' >"$doc"
  new=$(mktemp)
  awk -v head="## $1" -v secfile="$2" '
    function emit(  l) { while ((getline l < secfile) > 0) print l; done = 1 }
    /^## / && skip { skip = 0; print "" }
    index($0, head) == 1 { skip = 1; emit(); next }
    !skip { print }
    END { if (!done) { print ""; emit() } }
  ' "$doc" >"$new" && cat "$new" >"$doc"
  rm -f "$new"
}
