#!/usr/bin/env bash
# 25-cli-registry: `gpurun push` and `gpurun pull` through `gpurun serve` to
# and from Debian's docker-registry on a free loopback port: push prints
# Ollama's statuses and where the model went; pull prints plain status lines
# when stderr is not a terminal and redraws progress bars in place on one (a
# pty from script(1)); the pulled model runs; a missing tag fails with
# Ollama's "pull model manifest: file does not exist" and exit 1; pushing
# to a plain-HTTP registry without --insecure fails.
exec </dev/null # `run` reads a non-terminal stdin as its prompt
. "$(dirname "$0")/lib.bash"
models=${GPURUN_TEST_MODELS:-}
stories=$models/stories260K-F32.gguf
ref=$models/ref/stories260K-F32.gen.json
for f in "$stories" "$ref"; do
  [ -r "$f" ] || skip "$f missing (test models not installed)"
done
command -v docker-registry >/dev/null || skip "docker-registry is not installed (scripts/deps.sh)"
need curl node ss script
serve_env
rport=$(free_port)
cat >"$T/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $T/registry}}
http: {addr: 127.0.0.1:$rport}
EOF
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
rpid=$!
track "$rpid"
FAIL_LOGS+=("$T/registry.log")
wait_http "http://127.0.0.1:$rport/v2/" "registry"
start_serve

name=127.0.0.1:$rport/library/stories260k
sha=$(node -e 'process.stdout.write(require(process.argv[1]).model_sha256)' "$ref")
want_text=$(node -e 'process.stdout.write(require(process.argv[1]).cases[0].generated_text)' "$ref")
printf 'FROM %s\nPARAMETER temperature 0\nPARAMETER num_predict 64\n' "$stories" >"$T/Modelfile"
"$bin" create "$name" -f "$T/Modelfile" >/dev/null 2>&1 || fail "create"

# ---- push
"$bin" push "$name" 2>"$T/e" >/dev/null; rc=$?
[ $rc -eq 1 ] && grep -q "^Error: " "$T/e" || fail "push to a plain-HTTP registry without --insecure: $rc"
"$bin" push "$name" --insecure >"$T/o" 2>"$T/e" || fail "push exit $?: $(cat "$T/e")"
for l in "retrieving manifest" "pushing ${sha:0:12}: 100% 1.2 MB" "pushing manifest" "success"; do
  grep -qxF "$l" "$T/e" || { cat "$T/e"; fail "push lacks '$l'"; }
done
grep -qxF "You can find your model at:" "$T/o" || fail "push: no destination"
grep -qxF "	$name:latest" "$T/o" || fail "push destination: $(cat "$T/o")"
echo "ok: push"

# ---- pull, plain lines
"$bin" rm "$name" >/dev/null || fail "rm"
"$bin" pull "$name" --insecure >"$T/o" 2>"$T/e" || fail "pull exit $?: $(cat "$T/e")"
for l in "pulling manifest" "pulling ${sha:0:12}: 100% 1.2 MB" "verifying sha256 digest" \
  "writing manifest" "success"; do
  grep -qxF "$l" "$T/e" || { cat "$T/e"; fail "pull lacks '$l'"; }
done
grep -q $'\x1b' "$T/e" && fail "escape sequences in non-terminal output"
"$bin" list | grep -q "^$name:latest " || fail "pulled model not listed"
"$bin" run "$name" "Once upon a time" >"$T/o" 2>/dev/null || fail "run the pulled model"
[ "$(head -c ${#want_text} "$T/o")" = "$want_text" ] || fail "pulled model's story: $(head -c 200 "$T/o")"
echo "ok: pull"

# ---- pull on a terminal: bars with a percentage, redrawn in place
"$bin" rm "$name" >/dev/null || fail "rm"
TERM=xterm-256color timeout 60 script -qec "$bin pull $name --insecure" /dev/null >"$T/tty" 2>&1 ||
  fail "pull on a terminal: $(cat "$T/tty")"
grep -q "pulling ${sha:0:12}: 100% ▕█*▏ *1.2 MB" "$T/tty" || { cat -A "$T/tty" | head; fail "no full bar"; }
grep -q $'\x1b\[A' "$T/tty" || fail "no cursor-up: lines not redrawn in place"
grep -q $'\x1b\[K' "$T/tty" || fail "no clear-to-end-of-line"
grep -q "success" "$T/tty" || fail "tty pull: no success"
"$bin" list | grep -q "^$name:latest " || fail "tty-pulled model not listed"
echo "ok: pull on a terminal"

# ---- errors
"$bin" pull "127.0.0.1:$rport/library/nothere" --insecure >/dev/null 2>"$T/e"; rc=$?
[ $rc -eq 1 ] || fail "pull of a missing model: exit $rc"
grep -qx "Error: pull model manifest: file does not exist" "$T/e" || fail "pull missing: $(cat "$T/e")"
stop_pid "$rpid"
"$bin" pull "$name" --insecure >/dev/null 2>"$T/e"; rc=$?
[ $rc -eq 1 ] && grep -q "^Error: " "$T/e" || fail "pull from a stopped registry: $rc $(cat "$T/e")"
echo "ok"
