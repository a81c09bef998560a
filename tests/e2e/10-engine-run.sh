#!/usr/bin/env bash
# `gpurun run FILE.gguf PROMPT --temperature 0` prints llama.cpp's greedy story
# for stories260K (ref/stories260K-F32.gen.json, generated_text), streams it,
# and --prompt-ids/--print-ids/--print-logits reproduce a synthetic model's
# reference ids and logits; a bad file or bad flags give an error, no crash.
set -u
bin=${GPURUN_BIN:?}
models=${GPURUN_TEST_MODELS:-}
stories=$models/stories260K-F32.gguf
ref=$models/ref/stories260K-F32.gen.json
synth=$models/synth/synth-qwen2-F32.gguf
sref=$models/synth/ref/synth-qwen2-F32.gen.json
for f in "$stories" "$ref" "$synth" "$sref"; do
  [ -r "$f" ] || { echo "SKIP: $f missing (test models not installed)"; exit 77; }
done
command -v node >/dev/null || { echo "SKIP: node (for reading the reference JSON) is missing"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
js() { node -e "const d=require(process.argv[1]); $2" "$1"; }

# The story text, case by case (the ref continues the prompt; we print it
# followed by one newline).
for i in 0 1 2; do
  prompt=$(js "$ref" "process.stdout.write(d.cases[$i].prompt)")
  js "$ref" "process.stdout.write(d.cases[$i].generated_text + '\n')" >"$tmp/want$i"
  "$bin" run "$stories" "$prompt" --temperature 0 -n 64 --ignore-eos >"$tmp/got$i" 2>"$tmp/err$i" ||
    fail "run case $i exit $?: $(cat "$tmp/err$i")"
  cmp -s "$tmp/want$i" "$tmp/got$i" || { diff "$tmp/want$i" "$tmp/got$i"; fail "case $i text differs"; }
  want_ids=$(js "$ref" "console.log(d.cases[$i].generated_ids.join(','))")
  got_ids=$("$bin" run "$stories" "$prompt" --temperature 0 -n 64 --ignore-eos --print-ids) ||
    fail "--print-ids exit $?"
  [ "$got_ids" = "$want_ids" ] || fail "case $i ids: got $got_ids want $want_ids"
done
echo "ok: stories260K text and ids for 3 prompts"

# Token ids in, ids and logits out (gen-ref-v2: F32 KV cache).
pids=$(js "$sref" "console.log(d.cases[0].prompt_ids.join(','))")
want=$(js "$sref" "console.log(d.cases[0].generated_ids.join(','))")
got=$("$bin" run "$synth" --prompt-ids "$pids" --temperature 0 -n 32 --print-ids --kv-f32) ||
  fail "synth --print-ids exit $?"
[ "$got" = "$want" ] || fail "synth ids: got $got want $want"
"$bin" run "$synth" --prompt-ids "$pids" --temperature 0 -n 1 --print-logits --kv-f32 >"$tmp/logits" ||
  fail "--print-logits exit $?"
node -e '
const fs = require("fs");
const ref = require(process.argv[1]).cases[0].logits_first;
const got = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
if (got.length !== ref.length) { console.log("length", got.length); process.exit(1); }
let worst = 0;
for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]));
console.log("logits_first max abs err", worst);
process.exit(worst <= 1e-3 ? 0 : 1);' "$sref" "$tmp/logits" || fail "logits differ"

# Sampling with a seed is reproducible.
a=$("$bin" run "$stories" "Once upon a time" --seed 42 --temperature 1 -n 40 --print-ids) || fail "seed run"
b=$("$bin" run "$stories" "Once upon a time" --seed 42 --temperature 1 -n 40 --print-ids) || fail "seed run"
[ "$a" = "$b" ] || fail "same seed, different ids: $a / $b"

# Stop strings end the text before the match.
out=$("$bin" run "$stories" "Once upon a time" --temperature 0 -n 64 --stop " Lily") || fail "stop run"
[ "$out" = ", there was a little girl named" ] || fail "stop string: got '$out'"

# Errors: missing file, garbage file, bad ids, unknown flag.
printf 'not a gguf file at all' >"$tmp/bad.gguf"
"$bin" run "$tmp/nope.gguf" "hi" 2>"$tmp/e1" && fail "missing file accepted"
grep -q "no such model file" "$tmp/e1" || fail "missing file message: $(cat "$tmp/e1")"
"$bin" run "$tmp/bad.gguf" "hi" 2>"$tmp/e2"; rc=$?
[ $rc -eq 1 ] || fail "garbage file exit $rc"
grep -q "gguf" "$tmp/e2" || fail "garbage file message: $(cat "$tmp/e2")"
"$bin" run "$stories" --prompt-ids 1,x 2>/dev/null && fail "bad ids accepted"
"$bin" run "$stories" "hi" --prompt-ids 1,99999 2>"$tmp/e3" && fail "out-of-range id accepted"
"$bin" run "$stories" "hi" --bogus 2>/dev/null && fail "unknown flag accepted"
echo "ok"
