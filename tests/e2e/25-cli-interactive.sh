#!/usr/bin/env bash
# 25-cli-interactive: `gpurun run MODEL` on a terminal (a pty from script(1))
# is Ollama's chat: the ">>> " prompt, the story streamed back, the history
# sent again with each turn (the prompt grows: a template that renders every
# message, and --verbose's prompt eval count), /set parameter and /show,
# """ multi-line input with its "... " prompt, /clear, an unknown command,
# and /bye ending the session with exit status 0.
set -u
exec </dev/null # `run` reads a non-terminal stdin as its prompt
bin=${GPURUN_BIN:?}
models=${GPURUN_TEST_MODELS:-}
stories=$models/stories260K-F32.gguf
[ -r "$stories" ] || { echo "SKIP: $stories missing (test models not installed)"; exit 77; }
for c in curl ss script; do
  command -v $c >/dev/null || { echo "SKIP: $c is not installed"; exit 77; }
done
unset OLLAMA_HOST OLLAMA_MODELS GPURUN_MODELS GPURUN_API_KEY OLLAMA_API_KEY GPURUN_KEEP_ALIVE
T=$(mktemp -d /tmp/gpurun-cli-e2e.XXXXXX)
spid=
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  [ -f "$T/serve.log" ] && { echo "--- serve.log"; tail -20 "$T/serve.log"; }
  exit 1
}
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
  done
  echo 0
}
export GPURUN_HOME=$T/home
export GPURUN_HOST=127.0.0.1:$(free_port)
"$bin" serve >"$T/serve.log" 2>&1 &
spid=$!
for _ in $(seq 100); do curl -fs "http://$GPURUN_HOST/" >/dev/null && break; sleep 0.05; done
curl -fs "http://$GPURUN_HOST/" >/dev/null || fail "server did not start"

# Every message of the chat goes into the prompt, so a second turn's prompt
# is longer than the first's by more than the new message.
cat >"$T/Modelfile" <<EOF
FROM $stories
TEMPLATE """{{ range .Messages }}{{ .Content }} {{ end }}"""
PARAMETER temperature 0
PARAMETER num_predict 12
EOF
"$bin" create chatty -f "$T/Modelfile" >/dev/null 2>&1 || fail "create"

# One line at a time, each after the previous answer had time to finish.
{
  sleep 1
  for l in '/set verbose' 'Once upon a time' 'Lily went' '/set parameter num_predict 3' \
    '/show parameters' '/show info' '"""' 'There was' 'a dog' '"""' '/clear' '/frobnicate' \
    'Once upon a time' '/bye'; do
    printf '%s\n' "$l"
    sleep 0.7
  done
  sleep 2
} | TERM=xterm-256color COLUMNS=200 timeout 60 script -qec "$bin run chatty" /dev/null >"$T/raw" 2>&1
rc=$?
[ $rc -eq 0 ] || { tail -c 2000 "$T/raw"; fail "interactive session exit $rc"; }
# the pty's CR LF and the spinner's escape sequences removed
sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$T/raw" >"$T/out"

grep -q '^>>> ' "$T/out" || fail "no >>> prompt"
grep -q "Set 'verbose' mode." "$T/out" || fail "/set verbose"
# the first answer is the one-shot answer to the same prompt
"$bin" run chatty 'Once upon a time' >"$T/one" 2>/dev/null || fail "one-shot run"
first=$(head -1 "$T/one")
[ ${#first} -gt 10 ] || fail "one-shot answer too short: '$first'"
grep -qF -- "$first" "$T/out" || { cat "$T/out"; fail "the first answer is not '$first'"; }
mapfile -t counts < <(sed -n 's/^prompt eval count: *\([0-9]*\) token(s)$/\1/p' "$T/out")
[ ${#counts[@]} -ge 4 ] || { cat "$T/out"; fail "expected 4 timing blocks, got ${#counts[@]}"; }
# turn 2 carries turn 1's question and answer: well over the 3 tokens of "Lily went"
[ "${counts[1]}" -gt $((counts[0] + 8)) ] || fail "history not sent: prompt counts ${counts[*]}"
# after /clear the prompt is as short as the first turn's again
[ "${counts[3]}" -eq "${counts[0]}" ] || fail "/clear kept history: prompt counts ${counts[*]}"
grep -q "Set parameter 'num_predict' to '3'" "$T/out" || fail "/set parameter"
grep -Eq '^  num_predict +3$' "$T/out" || fail "/show parameters lacks the user parameter"
grep -Eq '^    architecture +llama' "$T/out" || fail "/show info"
grep -q '^\.\.\. ' "$T/out" || fail "no ... prompt in a multi-line message"
grep -Eq '^eval count: +3 token\(s\)$' "$T/out" || fail "num_predict 3 not applied"
grep -q "Cleared session context" "$T/out" || fail "/clear"
grep -q "Unknown command '/frobnicate'. Type /? for help" "$T/out" || fail "unknown command"

# A prompt argument on a terminal is not interactive: one answer, no >>>.
TERM=xterm-256color timeout 30 script -qec "$bin run chatty 'Once upon a time' --nowordwrap" /dev/null \
  </dev/null >"$T/raw2" 2>&1 || fail "one-shot run on a terminal"
grep -q '>>>' "$T/raw2" && fail "one-shot run went interactive"
grep -qF -- "$first" "$T/raw2" || fail "one-shot run on a terminal: $(cat "$T/raw2")"
echo "ok"
