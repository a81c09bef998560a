#!/usr/bin/env bash
# 43-autoscale-model.sh — the model server (--image gpurun/ollama) as a
# scale-to-zero service behind the gateway: stories260K uploaded through the
# gateway (/api/blobs, a 1.2 MB streamed body) and imported (/api/create);
# /api/generate streams NDJSON through it and the tokens the final line
# reports (eval_count) reach the ledger's request row, /metrics and the
# billing report; after the 2 s idle timeout the service is at zero and the
# next generate starts an instance that finds the model where it was.
. "$(dirname "$0")/30-gateway-lib.bash"
command -v jq >/dev/null || { echo "SKIP: jq is not installed"; exit 77; }
models=${GPURUN_TEST_MODELS:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/models}
gguf=$models/stories260K-F32.gguf
[ -f "$gguf" ] || { echo "SKIP: $gguf is missing"; exit 77; }
"$BIN" help | grep -q '^  serve ' || { echo "SKIP: this build has no 'serve' verb"; exit 77; }
export GPURUN_GPUS=0 GPURUN_NUM_THREAD=1
start_daemon
"$BIN" deploy llm --image gpurun/ollama --port 11434 --gpu 0 --allow-unauthenticated \
  --idle-timeout 2s >/dev/null 2>&1 || fail "deploy"
U=$(url llm)
digest=sha256:$(sha256sum "$gguf" | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$gguf" "$U/api/blobs/$digest")
[ "$code" = 201 ] || fail "blob upload through the gateway: HTTP $code"
curl -fs "$U/api/create" -d "{\"model\":\"stories\",\"files\":{\"m.gguf\":\"$digest\"},\"stream\":false}" |
  jq -e '.status == "success"' >/dev/null || fail "/api/create"

gen() {
  curl -sfN "$U/api/generate" -d '{"model":"stories","prompt":"Once upon a time",
    "options":{"num_predict":16,"temperature":0,"seed":1}}'
}
gen >"$GPURUN_HOME/gen1.ndjson" || fail "generate"
lines=$(grep -c . "$GPURUN_HOME/gen1.ndjson")
[ "$lines" -ge 10 ] || fail "generate gave $lines NDJSON lines"
tail -1 "$GPURUN_HOME/gen1.ndjson" | jq -e '.done == true and .eval_count == 16' >/dev/null ||
  fail "last line: $(tail -1 "$GPURUN_HOME/gen1.ndjson")"
text1=$(jq -rj '.response' <"$GPURUN_HOME/gen1.ndjson")
echo "generated: $text1"

sleep 0.3
t=$(ledger "SELECT tokens FROM ledger WHERE kind='request' AND service='llm' ORDER BY seq DESC LIMIT 1")
[ "$t" = 16 ] || fail "ledger tokens: '$t'"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -q 'gpurun_tokens_total{service="llm"} 16' ||
  fail "metrics do not count the tokens"

wait_until 8 instances llm 0 || fail "the model server did not scale to zero"
first=$(ledger "SELECT id FROM instances WHERE service='llm' ORDER BY start_ns LIMIT 1")
gen >"$GPURUN_HOME/gen2.ndjson" || fail "generate after scale to zero"
text2=$(jq -rj '.response' <"$GPURUN_HOME/gen2.ndjson")
[ "$text1" = "$text2" ] || fail "a different text after the cold start: '$text2'"
n=$(ledger "SELECT count(*) FROM instances WHERE service='llm'")
[ "$n" -eq 2 ] || fail "want a second instance, the state has $n"
rep=$("$BIN" billing report --service llm --format json) || fail "billing report"
tok=$(echo "$rep" | jq -r '.total.tokens')
[ "$tok" = 32 ] || fail "billing report tokens: $tok"
echo "$rep" | jq -e '.services[0].cost_per_1k_tokens > 0' >/dev/null || fail "no cost per 1k tokens"
echo "ok (first instance $first)"
