#!/usr/bin/env bash
# 36-oci-ollama-image.sh — the seed's flow as a container: `scripts/image.sh`
# (what `make image` runs) packages the gpurun under test as the
# gpurun/ollama OCI image and pushes it to Debian's docker-registry on a free
# loopback port; `gpurun daemon` deploys it with `--image
# 127.0.0.1:PORT/gpurun/ollama:latest --port 11434`; stories260K is put in the
# daemon's model store (which every container sees read-only at
# /var/lib/gpurun/models) through a throwaway `gpurun serve` on the host;
# then, through the gateway: /api/tags lists it, /api/generate at temperature
# 0 tells llama.cpp's reference story, an upload into the read-only store is
# refused with an error while the instance lives on.
# Root only (namespaces, mounts, cgroups), loopback only; skipped elsewhere.
. "$(dirname "$0")/30-gateway-lib.bash"
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (namespaces, mounts, cgroups)"
for c in umoci docker-registry ip jq; do
  command -v "$c" >/dev/null || skip "$c is not installed (scripts/deps.sh)"
done
command -v crun >/dev/null || command -v runc >/dev/null || skip "neither crun nor runc is installed"
models=${GPURUN_TEST_MODELS:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/models}
gguf=$models/stories260K-F32.gguf
ref=$models/ref/stories260K-F32.gen.json
for f in "$gguf" "$ref"; do [ -r "$f" ] || skip "$f is missing (test models)"; done
"$BIN" help | grep -q '^  serve ' || skip "this build has no 'serve' verb"
root=$(cd "$(dirname "$0")/../.." && pwd)
T=$GPURUN_HOME/t
mkdir -p "$T"

# ---- a registry on loopback
start_registry "$T" || fail "registry did not start"
rport=$REG_PORT
spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; kill $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null; cleanup' EXIT

# ---- the image, built and pushed as `make image IMAGE_PUSH=...` does
img=127.0.0.1:$rport/gpurun/ollama:latest
t0=$(date +%s%N)
"$root/scripts/image.sh" --bin "$BIN" --out "$T/image" --push "$img" >"$T/image.log" 2>&1 ||
  fail "scripts/image.sh: $(tail -5 "$T/image.log")"
echo "image built and pushed in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(head -1 "$T/image.log")"
curl -fs -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  "http://127.0.0.1:$rport/v2/gpurun/ollama/manifests/latest" >"$T/manifest.json" ||
  fail "the registry does not serve the pushed manifest"
cfg=$(jq -r '.config.digest' "$T/manifest.json")
curl -fs "http://127.0.0.1:$rport/v2/gpurun/ollama/blobs/$cfg" >"$T/config.json" || fail "config blob"
jq -e '.config.Entrypoint == ["/usr/local/bin/gpurun","serve"]' "$T/config.json" >/dev/null ||
  fail "Entrypoint: $(jq -c .config.Entrypoint "$T/config.json")"
jq -e '.config.ExposedPorts | has("11434/tcp")' "$T/config.json" >/dev/null || fail "ExposedPorts"
jq -e '.config.Env | index("GPURUN_HOST=0.0.0.0:11434")' "$T/config.json" >/dev/null || fail "Env"

# ---- the model, in the store the daemon mounts into its containers
export GPURUN_MODELS=$GPURUN_HOME/models GPURUN_GPUS=0 GPURUN_NUM_THREAD=1
sport=$(free_port)
GPURUN_HOST=127.0.0.1:$sport "$BIN" serve >"$T/serve.log" 2>&1 &
spid=$!
S=http://127.0.0.1:$sport
wait_until 10 curl -fs -o /dev/null "$S/api/version" || fail "host serve did not start: $(tail -3 "$T/serve.log")"
digest=sha256:$(sha256sum "$gguf" | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$gguf" "$S/api/blobs/$digest")
[ "$code" = 201 ] || fail "blob upload to the host serve: HTTP $code"
curl -fs "$S/api/create" -d "{\"model\":\"stories\",\"files\":{\"m.gguf\":\"$digest\"},\"stream\":false}" |
  jq -e '.status == "success"' >/dev/null || fail "/api/create on the host serve"
kill -TERM "$spid"
wait "$spid" 2>/dev/null
spid=

# ---- the image as a service
start_daemon
"$BIN" deploy ollama-img --image "$img" --port 11434 --allow-unauthenticated \
  --env GPURUN_NUM_THREAD=1 --idle-timeout 3s >"$T/deploy.log" 2>&1 || fail "deploy: $(cat "$T/deploy.log")"
U=$(url ollama-img)
t0=$(date +%s%N)
tags=$(curl -sS --max-time 60 "$U/api/tags") || fail "/api/tags through the gateway"
echo "first request (pull, unpack, start gpurun serve in crun): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
echo "$tags" | jq -e '.models | map(.name) | index("stories:latest")' >/dev/null ||
  fail "the container does not list the model: $tags"

want=$(jq -r '.cases[0].generated_text' "$ref")
n=$(jq -r '.cases[0].generated_ids | length' "$ref")
gen() {
  curl -sSf --max-time 60 "$U/api/generate" -d "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",
    \"stream\":false,\"options\":{\"num_predict\":$n,\"temperature\":0,\"seed\":1}}"
}
out=$(gen) || fail "/api/generate through the gateway"
got=$(echo "$out" | jq -r '.response')
[ "$got" = "$want" ] || fail "generated text differs from the reference:
got:  $got
want: $want"
echo "$out" | jq -e ".eval_count == $n" >/dev/null || fail "eval_count: $(echo "$out" | jq -c .eval_count)"
echo "generated (reference story): ${got:0:60}..."

# the store is read-only in the container: a write is refused, the instance stays
pid1=$(live_pids ollama-img)
code=$(head -c 4096 /dev/urandom >"$T/junk"; curl -s -o "$T/upload.out" -w '%{http_code}' \
  --data-binary @"$T/junk" "$U/api/blobs/sha256:$(sha256sum "$T/junk" | cut -d' ' -f1)")
case $code in 4?? | 5??) ;; *) fail "an upload into the read-only store gave HTTP $code" ;; esac
[ -s "$T/upload.out" ] || fail "the refused upload has no error message"
echo "upload into the read-only store: HTTP $code $(head -c 160 "$T/upload.out")"
[ "$(live_pids ollama-img)" = "$pid1" ] || fail "the instance changed after the refused upload"

# scale to zero and back: the cached image starts again, the model is where it was
wait_until 10 instances ollama-img 0 || fail "did not scale to zero"
t0=$(date +%s%N)
out=$(gen) || fail "/api/generate after scale to zero"
echo "cold start from the unpacked image to the whole answer: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$(echo "$out" | jq -r '.response')" = "$want" ] || fail "a different text after the cold start"
grep -q "image .* is sha256:" "$DLOG" || fail "the daemon did not log the image digest"
stop_daemon
# this daemon's only: its names carry 6 hex digits of its home's sha256
tag=$(printf %s "$(realpath -m "$GPURUN_HOME")" | sha256sum | cut -c1-6)
ip netns list 2>/dev/null | grep -q "^gpurun-$tag-" && fail "network namespaces left"
echo "ok"
