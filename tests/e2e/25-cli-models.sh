#!/usr/bin/env bash
# 25-cli-models: the Ollama-style verbs against a real `gpurun serve` on a
# free loopback port with a scratch GPURUN_HOME: create from a Modelfile
# (relative FROM path, blob upload), list/ls, show and its flags, run with a
# prompt (greedy stories260K reproduces llama.cpp's reference story), stdin
# as the prompt, --verbose timings, ps, stop, cp, rm, error messages and exit
# codes, and the "not running" error before and after the server.
exec </dev/null # `run` reads a non-terminal stdin as its prompt
. "$(dirname "$0")/lib.bash"
models=${GPURUN_TEST_MODELS:-}
stories=$models/stories260K-F32.gguf
ref=$models/ref/stories260K-F32.gen.json
for f in "$stories" "$ref"; do
  [ -r "$f" ] || skip "$f missing (test models not installed)"
done
need curl node ss
serve_env
port=$(free_port)
export GPURUN_HOST=127.0.0.1:$port
want_text=$(node -e 'process.stdout.write(require(process.argv[1]).cases[0].generated_text)' "$ref")
sha=$(node -e 'process.stdout.write(require(process.argv[1]).model_sha256)' "$ref")

# ---- no server: Ollama's error, exit 1
"$bin" list >"$T/o" 2>"$T/e"; rc=$?
[ $rc -eq 1 ] || fail "list without a server: exit $rc"
grep -qF "Error: could not connect to gpurun server at http://127.0.0.1:$port; is \`gpurun serve\` running?" "$T/e" ||
  fail "not-running message: $(cat "$T/e")"
OLLAMA_HOST=127.0.0.1:$port "$bin" ps 2>&1 | grep -q "127.0.0.1:$port" || fail "OLLAMA_HOST not honoured"

start_serve

# ---- create: FROM a path relative to the Modelfile, uploaded as a blob
mkdir -p "$T/m" "$T/elsewhere"
ln -s "$stories" "$T/m/stories.gguf"
cat >"$T/m/Modelfile" <<'EOF'
# stories260K, greedy
FROM ./stories.gguf
PARAMETER temperature 0
PARAMETER num_predict 64
PARAMETER stop "<|never|>"
SYSTEM """You tell short stories."""
LICENSE """MIT License
Copyright (c) Andrej Karpathy
Third line"""
EOF
(cd "$T/elsewhere" && "$bin" create stories -f ../m/Modelfile) >"$T/o" 2>"$T/e" ||
  fail "create exit $?: $(cat "$T/e")"
grep -qx "copying file sha256:$sha" "$T/e" || fail "create: no upload status: $(cat "$T/e")"
grep -qx "success" "$T/e" || fail "create: no success: $(cat "$T/e")"
[ -f "$GPURUN_HOME/models/blobs/sha256-$sha" ] || fail "create: blob not in the store"
"$bin" create bad -f "$T/nope" 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "Error: specified Modelfile wasn't found" "$T/e" || fail "missing Modelfile: $rc $(cat "$T/e")"
printf 'FROM ./stories.gguf\nPARAMETER bogus 1\n' >"$T/m/Bad"
"$bin" create bad -f "$T/m/Bad" 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "Error: unknown parameter 'bogus'" "$T/e" || fail "bad parameter: $rc $(cat "$T/e")"
echo "ok: create"

# ---- list / ls
digest=$(curl -fs "http://$GPURUN_HOST/api/tags" | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () =>
  process.stdout.write(JSON.parse(s).models[0].digest.slice(0, 12)))')
"$bin" list >"$T/o" || fail "list exit $?"
head -1 "$T/o" | grep -Eq '^NAME +ID +SIZE +MODIFIED +$' || fail "list header: $(head -1 "$T/o")"
grep -Eq "^stories:latest +$digest +1\.2 MB +(Less than a second|[0-9]+ seconds) ago +$" "$T/o" ||
  fail "list row: $(cat "$T/o")"
"$bin" ls sto | grep -q '^stories:latest' || fail "ls with a prefix"
[ "$("$bin" ls zzz | wc -l)" -eq 1 ] || fail "ls zzz should print only the header"
echo "ok: list"

# ---- show
"$bin" show stories >"$T/o" || fail "show exit $?"
for re in '^  Model$' '^    architecture +llama +$' '^    context length +128 +$' \
  '^    embedding length +64 +$' '^    quantization +F32 +$' '^  Capabilities$' \
  '^    completion +$' '^  Parameters$' '^    temperature +0 +$' '^    stop +"<\|never\|>" +$' \
  '^  System$' '^    You tell short stories\. +$' '^  License$' '^    MIT License +$' '^    \.\.\. +$'; do
  grep -Eq "$re" "$T/o" || { cat "$T/o"; fail "show lacks /$re/"; }
done
[ "$("$bin" show stories --system)" = "You tell short stories." ] || fail "show --system"
"$bin" show stories --parameters | grep -Eq '^num_predict +64$' || fail "show --parameters"
"$bin" show stories --modelfile | grep -q "^FROM " || fail "show --modelfile"
"$bin" show stories --license | grep -q "^Third line" || fail "show --license"
"$bin" show stories -v | grep -Eq '^  Metadata$' || fail "show -v lacks Metadata"
"$bin" show stories --system --license 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "only one of" "$T/e" || fail "two show flags: $rc"
"$bin" show nosuch 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "^Error: .*not found" "$T/e" || fail "show nosuch: $rc $(cat "$T/e")"
"$bin" show "$stories" | grep -q 'architecture' || fail "show FILE.gguf (local form) broke"
echo "ok: show"

# ---- run with a prompt: the reference story, then a blank line
"$bin" run stories "Once upon a time" >"$T/o" 2>"$T/e" || fail "run exit $?: $(cat "$T/e")"
printf '%s\n\n' "$want_text" >"$T/want"
cmp -s "$T/want" "$T/o" || { diff "$T/want" "$T/o"; fail "run text differs from the reference"; }
printf 'Once upon a time' | "$bin" run stories >"$T/o2" 2>/dev/null || fail "run from stdin"
cmp -s "$T/want" "$T/o2" || fail "stdin prompt gave other text: $(head -c 200 "$T/o2")"
"$bin" run stories "Lily went to the park" --verbose >/dev/null 2>"$T/e" || fail "run --verbose"
for re in '^total duration: +[0-9.]+(ns|µs|ms|s)$' '^load duration: ' '^prompt eval count: +[0-9]+ token\(s\)$' \
  '^prompt eval rate: +[0-9]+\.[0-9]{2} tokens/s$' '^eval count: +64 token\(s\)$' \
  '^eval duration: +[0-9.]+(µs|ms|s)$' '^eval rate: +[0-9]+\.[0-9]{2} tokens/s$'; do
  grep -Eq "$re" "$T/e" || { cat "$T/e"; fail "--verbose lacks /$re/"; }
done
"$bin" run stories hi --keepalive 5x 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q 'invalid duration' "$T/e" || fail "bad --keepalive: $rc"
"$bin" run 127.0.0.1:1/library/nothing hi --insecure >/dev/null 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "^pulling manifest" "$T/e" && grep -q "^Error: " "$T/e" ||
  fail "run of a missing model should try a pull and fail: $rc $(cat "$T/e")"
echo "ok: run"

# ---- ps, with the keep-alive the last run asked for
"$bin" run stories "Once" --keepalive 10m >/dev/null 2>&1 || fail "run --keepalive"
"$bin" ps >"$T/o" || fail "ps exit $?"
head -1 "$T/o" | grep -Eq '^NAME +ID +SIZE +PROCESSOR +CONTEXT +UNTIL +$' || fail "ps header: $(head -1 "$T/o")"
grep -Eq "^stories:latest +$digest +[0-9.]+ [KM]B +100% CPU +[0-9]+ +(9|10) minutes from now +$" "$T/o" ||
  fail "ps row: $(cat "$T/o")"
"$bin" run stories "Once" --keepalive -1m >/dev/null 2>&1 || fail "run --keepalive -1m"
"$bin" ps | grep -Eq '^stories:latest .* Forever +$' || fail "ps forever: $("$bin" ps)"
"$bin" stop stories || fail "stop exit $?"
for _ in $(seq 50); do "$bin" ps | grep -q '^stories' || break; sleep 0.1; done
"$bin" ps | grep -q '^stories' && fail "stop left the model loaded"
"$bin" stop nosuch 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "Error: couldn't find model \"nosuch\" to stop" "$T/e" || fail "stop nosuch: $rc $(cat "$T/e")"
echo "ok: ps, stop"

# ---- cp, rm
[ "$("$bin" cp stories st2:v1)" = "copied 'stories' to 'st2:v1'" ] || fail "cp output"
"$bin" list | grep -Eq "^st2:v1 +$digest " || fail "cp: copy not listed"
"$bin" cp nosuch x 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "^Error: " "$T/e" || fail "cp nosuch: $rc"
[ "$("$bin" rm st2:v1)" = "deleted 'st2:v1'" ] || fail "rm output"
"$bin" list | grep -q '^st2' && fail "rm left the copy"
"$bin" rm nosuch 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "^Error: model 'nosuch' not found" "$T/e" || fail "rm nosuch: $rc $(cat "$T/e")"
"$bin" list | grep -q '^stories:latest' || fail "rm removed the wrong model"
echo "ok: cp, rm"

# ---- usage errors
"$bin" cp onlyone 2>/dev/null; [ $? -eq 2 ] || fail "cp with one argument should exit 2"
"$bin" pull 2>/dev/null; [ $? -eq 2 ] || fail "pull without a model should exit 2"

stop_pid "$spid"
"$bin" list 2>&1 | grep -q "could not connect to gpurun server" || fail "no error after the server stopped"
echo "ok"
