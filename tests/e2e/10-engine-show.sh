#!/usr/bin/env bash
# `gpurun show FILE.gguf` prints an `ollama show`-style summary of real and
# synthetic models (architecture, parameters, context, quantization, the
# architecture's own parameters), and a truncated or garbage file gives a
# clear one-line error and a non-zero exit, never a crash.
set -u
bin=${GPURUN_BIN:?}
models=${GPURUN_TEST_MODELS:-}
stories=$models/stories260K-F32.gguf
gemma3=$models/synth/synth-gemma3-Q4_K.gguf
gemma2=$models/synth/synth-gemma2-F32.gguf
for f in "$stories" "$gemma3" "$gemma2"; do
  [ -r "$f" ] || { echo "SKIP: $f missing (test models not installed)"; exit 77; }
done
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# want FILE REGEX...: each regex matches a line of FILE's output.
want() {
  local out=$1; shift
  for re in "$@"; do
    grep -Eq "$re" "$out" || { cat "$out"; fail "output lacks /$re/"; }
  done
}

"$bin" show "$stories" >"$tmp/s.out" 2>"$tmp/s.err" || fail "show stories exit $?: $(cat "$tmp/s.err")"
want "$tmp/s.out" '^  Model$' '^ +architecture +llama$' '^ +parameters +292\.8K$' \
  '^ +context length +128$' '^ +embedding length +64$' '^ +quantization +F32$' \
  '^ +attention heads +8$' '^ +key/value heads +4$' '^ +model +llama$' '^ +tokens +512$' \
  '^ +tensors +48$'

"$bin" show "$gemma3" >"$tmp/g3.out" 2>&1 || fail "show gemma3 exit $?"
want "$tmp/g3.out" '^ +architecture +gemma3$' '^ +quantization +Q4_K_M$' '^ +sliding window +8$' \
  '^ +rope base +1000000$' '^ +rope scaling +linear$' '^ +rope scaling factor +8$' \
  '^ +layer pattern +5 local : 1 global' '^ +local rope base +10000$'

"$bin" show "$gemma2" >"$tmp/g2.out" 2>&1 || fail "show gemma2 exit $?"
want "$tmp/g2.out" '^ +architecture +gemma2$' '^ +attention logit softcap +[0-9.]+$' \
  '^ +final logit softcap +[0-9.]+$' '^ +layer pattern +alternating'

"$bin" show --verbose "$stories" >"$tmp/v.out" 2>&1 || fail "show --verbose exit $?"
want "$tmp/v.out" '^ +tokenizer.ggml.tokens +\[512 x string\]$' \
  '^ +token_embd.weight +F32 +\[64, 512\]$' '^ +blk.4.ffn_down.weight +F32 +\[172, 64\]$'

# Hostile inputs: truncated in the header, in the tensor infos, in the data;
# garbage; an empty file; a missing file. Exit 1 with one "gpurun show:" line.
head -c 100 "$stories" >"$tmp/t100.gguf"
head -c 700000 "$stories" >"$tmp/t700k.gguf"
head -c 1185000 "$stories" >"$tmp/tdata.gguf"
head -c 4096 /dev/urandom >"$tmp/garbage.gguf"
: >"$tmp/empty.gguf"
for f in t100 t700k tdata garbage empty missing; do
  "$bin" show "$tmp/$f.gguf" >"$tmp/o" 2>"$tmp/e"; rc=$?
  [ $rc -eq 1 ] || fail "$f: exit $rc, want 1 ($(cat "$tmp/e"))"
  [ "$(wc -l <"$tmp/e")" -eq 1 ] || fail "$f: error is not one line: $(cat "$tmp/e")"
  grep -q '^gpurun show: ' "$tmp/e" || fail "$f: unclear error: $(cat "$tmp/e")"
  [ -s "$tmp/o" ] && fail "$f: printed output for a bad file"
  echo "$f: $(cat "$tmp/e")"
done
grep -q 'truncated\|past the end' <("$bin" show "$tmp/tdata.gguf" 2>&1) || fail "tdata: no truncation message"
"$bin" show >/dev/null 2>&1; [ $? -eq 2 ] || fail "show without a file should exit 2"
echo ok
