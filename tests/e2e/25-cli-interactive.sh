#!/usr/bin/env bash
# 25-cli-interactive: `gpurun run MODEL` on a terminal (a pty from script(1))
# is Ollama's chat: the ">>> " prompt, the answer streamed back, the history
# sent again with each turn (a template that renders the number of messages
# makes each answer tell) and dropped by /clear, /set parameter and /show,
# """ multi-line input with its "... " prompt, /clear, an unknown command,
# and /bye ending the session with exit status 0.
exec </dev/null # `run` reads a non-terminal stdin as its prompt
. "$(dirname "$0")/lib.bash"
models=${GPURUN_TEST_MODELS:-}
stories=$models/stories260K-F32.gguf
[ -r "$stories" ] || skip "$stories missing (test models not installed)"
need curl ss script
serve_env
start_serve

# The chat's template renders how many messages the request carries, so
# each turn's answer tells whether the history went with it: fixed-template
# models give the answers to expect for 1 and 3 messages.
model() { # NAME TEMPLATE
  printf 'FROM %s\nTEMPLATE """Once upon a time %s"""\nPARAMETER temperature 0\nPARAMETER num_predict 12\n' \
    "$stories" "$2" >"$T/M.$1"
  "$bin" create "$1" -f "$T/M.$1" >/dev/null 2>&1 || fail "create $1"
}
model chatty '{{ len .Messages }}'
model one 1
model three 3
a1=$("$bin" run one x 2>/dev/null | head -1)
a3=$("$bin" run three x 2>/dev/null | head -1)
[ ${#a1} -gt 10 ] && [ ${#a3} -gt 10 ] && [ "$a1" != "$a3" ] || fail "reference answers: '$a1' / '$a3'"

# One line at a time, each after the previous answer had time to finish.
{
  sleep 1
  for l in '/set verbose' 'hello' 'again' '/clear' 'hi' '/set parameter num_predict 3' \
    '/show parameters' '/show info' '"""' 'There was' 'a dog' '"""' '/frobnicate' '/bye'; do
    printf '%s\n' "$l"
    sleep 0.7
  done
  sleep 2
} | TERM=xterm-256color timeout 60 script -qec "$bin run chatty --nowordwrap" /dev/null >"$T/raw" 2>&1
rc=$?
[ $rc -eq 0 ] || { tail -c 2000 "$T/raw"; fail "interactive session exit $rc"; }
# the pty's CR LF and the spinner's escape sequences removed
sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$T/raw" >"$T/out"

grep -q '^>>> ' "$T/out" || fail "no >>> prompt"
grep -q "Set 'verbose' mode." "$T/out" || fail "/set verbose"
# turn 1: one message; turn 2: three (the history); after /clear: one again
order=$(awk -v a="$a1" -v b="$a3" 'index($0, a) { printf "1" } index($0, b) { printf "3" }' "$T/out")
[ "$order" = 131 ] || { cat "$T/out"; fail "answers by message count: got '$order', want 131"; }
grep -Eq '^prompt eval count: +[0-9]+ token\(s\)$' "$T/out" || fail "no timing block"
grep -q "Set parameter 'num_predict' to '3'" "$T/out" || fail "/set parameter"
grep -Eq '^  num_predict +3$' "$T/out" || fail "/show parameters lacks the user parameter"
grep -Eq '^    architecture +llama' "$T/out" || fail "/show info"
grep -q '^\.\.\. ' "$T/out" || fail "no ... prompt in a multi-line message"
grep -Eq '^eval count: +3 token\(s\)$' "$T/out" || fail "num_predict 3 not applied"
grep -q "Cleared session context" "$T/out" || fail "/clear"
grep -q "Unknown command '/frobnicate'. Type /? for help" "$T/out" || fail "unknown command"

# A prompt argument on a terminal is not interactive: one answer, no >>>.
TERM=xterm-256color timeout 30 script -qec "$bin run one 'x' --nowordwrap" /dev/null \
  </dev/null >"$T/raw2" 2>&1 || fail "one-shot run on a terminal"
grep -q '>>>' "$T/raw2" && fail "one-shot run went interactive"
grep -qF -- "$a1" "$T/raw2" || fail "one-shot run on a terminal: $(cat "$T/raw2")"
echo "ok"
