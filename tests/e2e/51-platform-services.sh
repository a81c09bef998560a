#!/usr/bin/env bash
# 51-platform-services: the control plane with real processes on loopback.
# `gpurun daemon` on a temp GPURUN_HOME and a free gateway port; the CLI says
# so when the daemon is not running; `gpurun deploy` of a `gpurun hello`
# service; describe --format 'value(status.url)' / json / yaml; curl through
# the gateway (NAME.localhost and a Host header); a second deploy makes a
# second revision with only the given flag changed; update-traffic splits
# 50/50 (both revisions answer) and back --to-latest; export -> replace round
# trip (unchanged: no new revision; changed: a new one); logs read and
# --follow; validation errors (GPUs, region, names); delete.
. "$(dirname "$0")/lib.bash"
need curl jq ss
FAIL_LOGS=("$T/daemon.log")

export GPURUN_HOME=$T/home GPURUN_GPUS=0
port=$(free_port)
export GPURUN_GATEWAY=127.0.0.1:$port
sock=$GPURUN_HOME/gpurun.sock

# ---- no daemon: a clear error and exit 1
out=$("$bin" services list 2>&1); rc=$?
[ $rc -eq 1 ] || fail "services list without a daemon: exit $rc"
want="Error: cannot reach the gpurun daemon at $sock; is \`gpurun daemon\` running?"
[ "$out" = "$want" ] || fail "no-daemon message: '$out'"
out=$("$bin" deploy x --image gpurun/hello 2>&1) && fail "deploy without a daemon succeeded"
[ "$out" = "$want" ] || fail "deploy no-daemon message: '$out'"

# ---- the daemon
"$bin" daemon >"$T/daemon.log" 2>&1 & dpid=$!
track "$dpid"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "the admin socket did not appear"
[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), want 600"
"$bin" services list >"$T/empty.out" 2>&1 || fail "services list on an empty daemon"
grep -q "Listed 0 items." "$T/empty.out" || fail "empty list: $(cat "$T/empty.out")"

# ---- deploy
out=$("$bin" deploy hello --command "$bin" --args hello --allow-unauthenticated 2>&1) ||
  fail "deploy: $out"
grep -qx "Deploying container to gpurun service \[hello\] in region \[local\]" <<<"$out" ||
  fail "deploy banner: $out"
rev1=$(sed -n 's/^Service \[hello\] revision \[\(.*\)\] has been deployed and is serving 100 percent of traffic\.$/\1/p' <<<"$out")
[[ $rev1 =~ ^hello-00001-[a-z]{3}$ ]] || fail "first revision name '$rev1': $out"
grep -qx "Service URL: http://hello.localhost:$port" <<<"$out" || fail "deploy URL line: $out"

url=$("$bin" services describe hello --format 'value(status.url)') || fail "describe value"
[ "$url" = "http://hello.localhost:$port" ] || fail "status.url '$url'"
two=$("$bin" services describe hello --format 'value(metadata.name,status.latestReadyRevisionName)')
[ "$two" = "$(printf 'hello\t%s' "$rev1")" ] || fail "two-key value: '$two'"
"$bin" services describe hello --format json >"$T/svc.json" || fail "describe json"
[ "$(jq -r .status.url "$T/svc.json")" = "$url" ] || fail "json status.url"
[ "$(jq -r .kind "$T/svc.json")" = Service ] || fail "json kind"
[ "$(jq -r '.status.conditions[] | select(.type=="Ready") | .status' "$T/svc.json")" = True ] ||
  fail "not Ready: $(jq -c .status.conditions "$T/svc.json")"
"$bin" services describe hello --format yaml | grep -q "^  url: $url\$" || fail "describe yaml"
"$bin" services describe hello >"$T/describe.txt" || fail "describe text"
grep -q "100% LATEST (currently $rev1)" "$T/describe.txt" || fail "describe text: $(cat "$T/describe.txt")"

# ---- through the gateway: NAME.localhost resolves to loopback, or a Host header
[ "$(curl -s -m 20 "$url/")" = "Hello World!" ] || fail "curl $url/"
[ "$(curl -s -m 20 -H "Host: hello.localhost:$port" "http://127.0.0.1:$port/")" = "Hello World!" ] ||
  fail "curl with a Host header"
"$bin" services list --format 'value(metadata.name,status.url)' | grep -qx "$(printf 'hello\t%s' "$url")" ||
  fail "services list value()"

# ---- second deploy: only --env changes; a second revision
out=$("$bin" deploy hello --env GREETING=hi 2>&1) || fail "second deploy: $out"
rev2=$("$bin" services describe hello --format 'value(status.latestReadyRevisionName)')
[[ $rev2 =~ ^hello-00002-[a-z]{3}$ ]] || fail "second revision '$rev2'"
args=$("$bin" services describe hello --format 'value(spec.template.spec.containers[0].args)')
[ "$args" = hello ] || fail "args lost by an --env deploy: '$args'"
env=$("$bin" services describe hello --format "value(spec.template.spec.containers[0].env[0].value)")
[ "$env" = hi ] || fail "env not set: '$env'"
revs=$("$bin" revisions list --service hello --format 'value(metadata.name)' | tr '\n' ' ')
[ "$revs" = "$rev2 $rev1 " ] || fail "revisions list: '$revs'"
"$bin" revisions list >"$T/revs.txt" || fail "revisions list table"
grep -q "REVISION" "$T/revs.txt" && grep -q "$rev1" "$T/revs.txt" || fail "revisions table: $(cat "$T/revs.txt")"
[ "$(curl -s -m 20 "$url/")" = "Hello World!" ] || fail "curl after the second deploy"

# ---- traffic: 50/50, both revisions serve; then back to latest
out=$("$bin" services update-traffic hello --to-revisions "$rev1=50,$rev2=50" 2>&1) ||
  fail "update-traffic: $out"
grep -q " 50% $rev1" <<<"$out" && grep -q " 50% $rev2" <<<"$out" || fail "traffic output: $out"
split=$("$bin" services describe hello --format 'value(status.traffic[0].percent,status.traffic[1].percent)')
[ "$split" = "$(printf '50\t50')" ] || fail "split '$split'"
for _ in $(seq 24); do
  [ "$(curl -s -m 20 "$url/")" = "Hello World!" ] || fail "curl during the split"
done
"$bin" services describe hello --format json >"$T/split.json"
served=$(jq -r '[.status.instances[].revision] | unique | join(" ")' "$T/split.json")
[[ $served == *"$rev1"* && $served == *"$rev2"* ]] ||
  fail "24 requests on a 50/50 split reached only: '$served'"
"$bin" services update-traffic hello --to-latest >/dev/null 2>&1 || fail "--to-latest"
[ "$("$bin" services describe hello --format 'value(spec.traffic[0].latestRevision,spec.traffic[0].percent)')" = "$(printf 'True\t100')" ] ||
  fail "--to-latest split"
"$bin" services update-traffic hello --to-revisions "$rev1=60,$rev2=60" >/dev/null 2>&1 &&
  fail "a split over 100 was accepted"

# ---- export -> replace
"$bin" services export hello >"$T/hello.yaml" || fail "export"
grep -q "^kind: Service$" "$T/hello.yaml" || fail "export is not a Knative Service"
grep -q "^status:" "$T/hello.yaml" && fail "export carries status"
"$bin" services describe hello --format export | cmp -s - "$T/hello.yaml" || fail "describe --format export differs from export"
out=$("$bin" services replace "$T/hello.yaml" 2>&1) || fail "replace unchanged: $out"
grep -q "New configuration has been applied to service \[hello\]" <<<"$out" || fail "replace output: $out"
[ "$("$bin" revisions list --service hello --format 'value(metadata.name)' | wc -l)" = 2 ] ||
  fail "an unchanged replace made a revision"
sed -e 's/containerConcurrency: 80/containerConcurrency: 7/' -e '/^    metadata:$/,/^    spec:$/{/^      name: /d}' \
  "$T/hello.yaml" >"$T/hello2.yaml"
out=$("$bin" services replace "$T/hello2.yaml" 2>&1) || fail "replace changed: $out"
[ "$("$bin" services describe hello --format 'value(spec.template.spec.containerConcurrency)')" = 7 ] ||
  fail "replace did not change containerConcurrency"
[ "$("$bin" revisions list --service hello --format 'value(metadata.name)' | wc -l)" = 3 ] ||
  fail "a changed replace made no revision"
[ "$(curl -s -m 20 "$url/")" = "Hello World!" ] || fail "curl after replace"

# ---- logs: read, then --follow sees a new instance start
"$bin" logs read hello --limit 50 >"$T/logs.txt" || fail "logs read"
grep -q "hello-0000" "$T/logs.txt" || fail "logs read shows no instance: $(head -5 "$T/logs.txt")"
[ "$("$bin" logs read hello --limit 2 | wc -l)" = 2 ] || fail "logs read --limit 2"
"$bin" logs read hello --limit 1 --follow >"$T/follow.txt" 2>&1 & fpid=$!
track "$fpid"
sleep 0.5
"$bin" deploy hello --env GREETING=again >/dev/null 2>&1 || fail "third deploy"
rev4=$("$bin" services describe hello --format 'value(status.latestReadyRevisionName)')
curl -s -m 20 "$url/" >/dev/null
for _ in $(seq 50); do grep -q "$rev4" "$T/follow.txt" && break; sleep 0.1; done
grep -q "$rev4" "$T/follow.txt" || fail "logs --follow did not show $rev4's instance: $(cat "$T/follow.txt")"
stop_pid "$fpid"
out=$("$bin" logs read nope 2>&1) && fail "logs of a missing service"
[ "$out" = "Error: service nope not found" ] || fail "logs nope: '$out'"

# ---- validation: clear errors, exit 1
out=$("$bin" deploy llm --image gpurun/ollama --gpu 1 2>&1) && fail "--gpu 1 on a GPU-less node deployed"
[ "$out" = "Error: not enough GPUs: requested 1, node has 0 free" ] || fail "gpu message: '$out'"
out=$("$bin" deploy x --image gpurun/hello --region us-central1 2>&1) && fail "foreign region deployed"
grep -q "this daemon's region is 'local'" <<<"$out" || fail "region message: '$out'"
out=$("$bin" deploy Bad_Name --image gpurun/hello 2>&1) && fail "bad name deployed"
grep -q "^Error: invalid service name .Bad_Name." <<<"$out" || fail "bad name message: '$out'"
out=$("$bin" deploy x --image gpurun/hello --concurrency 5000 2>&1) && fail "concurrency 5000 deployed"
grep -q "^Error: --concurrency" <<<"$out" || fail "concurrency message: '$out'"
out=$("$bin" services describe nope 2>&1) && fail "describe of a missing service"
[ "$out" = "Error: service nope not found" ] || fail "describe nope: '$out'"
"$bin" services frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown subcommand exit"

# ---- delete
out=$("$bin" services delete hello --quiet 2>&1) || fail "delete: $out"
[ "$out" = "Deleted service [hello]." ] || fail "delete message: '$out'"
"$bin" services describe hello >/dev/null 2>&1 && fail "deleted service still described"
code=$(curl -s -o /dev/null -w '%{http_code}' -m 20 "$url/")
[ "$code" = 404 ] || fail "deleted service answers $code"
out=$("$bin" services delete hello --quiet 2>&1) && fail "second delete succeeded"
echo ok
