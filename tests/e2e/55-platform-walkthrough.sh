#!/usr/bin/env bash
# 55-platform-walkthrough: DESIGN.md's walk-through, end to end, offline, as a
# user types it (--gpu 0: this test pins GPURUN_GPUS=0):
#   gpurun daemon
#   gpurun deploy ollama-service --image gpurun/ollama --port 11434 --gpu 0 \
#          --region local --allow-unauthenticated
#   URL=$(gpurun services describe ollama-service --format 'value(status.url)')
#   curl -X POST $URL/api/pull -d '{"name": "127.0.0.1:PORT/library/stories260k", "insecure": true}'
#   curl -X POST $URL/api/generate -d '{"model": "...", "prompt": "Hello, how are you?"}'
#   gpurun billing report
# stories260K reaches Debian's docker-registry (free loopback port) first
# through a throwaway `gpurun serve`: /api/blobs, /api/create, /api/push.
. "$(dirname "$0")/lib.bash"
for c in curl jq docker-registry sha256sum; do
  command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh)"
done
models=${GPURUN_TEST_MODELS:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/models}
gguf=$models/stories260K-F32.gguf
ref=$models/ref/stories260K-F32.gen.json
[ -f "$gguf" ] || skip "$gguf is missing"
"$bin" help | grep -q '^  serve ' || skip "this build has no 'serve' verb"

FAIL_LOGS=("$T/daemon.log" "$T/seed.log" "$T/registry.log")

# ---- docker-registry on loopback
reg=$(free_port)
mkdir -p "$T/registry"
cat >"$T/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $T/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$reg}
EOF
docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 & track $!
wait_http "http://127.0.0.1:$reg/v2/" "docker-registry"
remote=127.0.0.1:$reg/library/stories260k

# ---- seed: a throwaway model server pushes stories260K there
seed=$(free_port)
GPURUN_HOST=127.0.0.1:$seed GPURUN_HOME=$T/seed GPURUN_MODELS=$T/seed/models \
  GPURUN_NUM_THREAD=1 "$bin" serve >"$T/seed.log" 2>&1 & seed_pid=$!; track "$seed_pid"
wait_http "http://127.0.0.1:$seed/api/version" "the seeding gpurun serve"
digest=sha256:$(sha256sum "$gguf" | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$gguf" "http://127.0.0.1:$seed/api/blobs/$digest")
[ "$code" = 201 ] || fail "blob upload: HTTP $code"
curl -fs "http://127.0.0.1:$seed/api/create" \
  -d "{\"model\":\"$remote\",\"files\":{\"model.gguf\":\"$digest\"},\"stream\":false}" |
  jq -e '.status == "success"' >/dev/null || fail "/api/create"
curl -fs "http://127.0.0.1:$seed/api/push" -d "{\"model\":\"$remote\",\"insecure\":true,\"stream\":false}" |
  jq -e '.status == "success"' >/dev/null || fail "/api/push to the registry"
stop_pid "$seed_pid"

# ---- make run's part: the daemon
export GPURUN_HOME=$T/home GPURUN_GPUS=0 GPURUN_NUM_THREAD=1
gw=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$gw
"$bin" daemon >"$T/daemon.log" 2>&1 & track $!
for _ in $(seq 100); do [ -S "$GPURUN_HOME/gpurun.sock" ] && break; sleep 0.1; done
[ -S "$GPURUN_HOME/gpurun.sock" ] || fail "the daemon's socket did not appear"

# ---- step 2: deploy
out=$("$bin" deploy ollama-service --image gpurun/ollama --port 11434 \
  --gpu 0 --region local --allow-unauthenticated 2>&1) || fail "deploy: $out"
grep -qx "Deploying container to gpurun service \[ollama-service\] in region \[local\]" <<<"$out" ||
  fail "deploy output: $out"
grep -q "has been deployed and is serving 100 percent of traffic" <<<"$out" || fail "deploy output: $out"

# ---- step 3: the URL
URL=$("$bin" services describe ollama-service --format 'value(status.url)') || fail "describe"
[ "$URL" = "http://ollama-service.localhost:$gw" ] || fail "URL '$URL'"
grep -qx "Service URL: $URL" <<<"$out" || fail "deploy printed another URL: $out"

# ---- step 4: pull streams progress (the first request starts the instance)
t0=$(date +%s.%N)
curl -sN -m 120 -X POST "$URL/api/pull" -d "{\"name\": \"$remote\", \"insecure\": true}" >"$T/pull.ndjson" ||
  fail "curl /api/pull"
[ "$(head -1 "$T/pull.ndjson")" = '{"status":"pulling manifest"}' ] ||
  fail "pull's first line: $(head -3 "$T/pull.ndjson")"
[ "$(tail -1 "$T/pull.ndjson")" = '{"status":"success"}' ] || fail "pull's last line: $(tail -3 "$T/pull.ndjson")"
jq -es 'map(select(.digest == "'"$digest"'")) | length >= 1 and (.[-1].completed == .[-1].total)' \
  "$T/pull.ndjson" >/dev/null || fail "no progress lines for the model layer: $(cat "$T/pull.ndjson")"
[ "$(wc -l <"$T/pull.ndjson")" -ge 4 ] || fail "pull did not stream: $(cat "$T/pull.ndjson")"

# ---- step 5: generate, streamed NDJSON as the README's curl gets it
curl -sN -m 120 -X POST "$URL/api/generate" \
  -d "{\"model\": \"$remote\", \"prompt\": \"Hello, how are you?\"}" >"$T/gen.ndjson" || fail "curl /api/generate"
jq -es 'length >= 2 and (.[-1].done == true) and (.[:-1] | all(.done == false and (.response | type) == "string"))' \
  "$T/gen.ndjson" >/dev/null || fail "generate stream: $(head -c 600 "$T/gen.ndjson")"
text=$(jq -rj 'select(.done == false) | .response' "$T/gen.ndjson")
[ -n "$text" ] || fail "generate produced no text"
# and the engine's reference text at temperature 0, through the gateway
if [ -f "$ref" ]; then
  want=$(jq -rj '.cases[] | select(.prompt == "Once upon a time") |
    (.generated_ids | index(2)) as $e | .generated_pieces[: (if $e == null then 64 else $e end)] | join("")' "$ref")
  got=$(curl -s -m 120 -X POST "$URL/api/generate" -d "{\"model\": \"$remote\", \"prompt\": \"Once upon a time\",
    \"stream\": false, \"options\": {\"temperature\": 0, \"num_predict\": 64}}" | jq -rj .response)
  [ "$got" = "$want" ] || fail "reference text differs: got '$got' want '$want'"
fi
t1=$(date +%s.%N)

# ---- step 6: billing report shows the instance
"$bin" billing report >"$T/bill.txt" || fail "billing report"
grep -q "^ollama-service " "$T/bill.txt" || fail "billing table lacks the service: $(cat "$T/bill.txt")"
grep -q "ollama-service-00001-" "$T/bill.txt" || fail "billing table lacks the instance: $(cat "$T/bill.txt")"
"$bin" billing report --format json --service ollama-service >"$T/bill.json" || fail "billing json"
jq -e '.instances | length == 1' "$T/bill.json" >/dev/null || fail "instances: $(cat "$T/bill.json")"
wall=$(jq '.instances[0].wall_seconds' "$T/bill.json")
awk -v w="$wall" -v a="$t0" -v z="$(date +%s.%N)" 'BEGIN { exit !(w > 0 && w <= z - a + 1.0) }' ||
  fail "the instance's wall time $wall s is not within the walk-through's $(awk -v a="$t0" -v z="$t1" 'BEGIN{print z-a}') s"
jq -e '.services[0].requests >= 3' "$T/bill.json" >/dev/null ||
  echo "note: the ledger counts $(jq '.services[0].requests' "$T/bill.json") requests (want >= 3)"
tokens=$(jq '.services[0].tokens' "$T/bill.json")
[ "$tokens" -gt 0 ] 2>/dev/null ||
  echo "note: the ledger records no generated tokens for the model server (cost per 1K tokens unset)"
echo ok
