#!/usr/bin/env bash
# 33-gateway-auth.sh — a private service (the default): no token 401 (with
# WWW-Authenticate), a malformed token 403, a token for another audience
# 403, then 200 with `gpurun auth print-identity-token --audience URL`, also
# in X-Serverless-Authorization; --allow-unauthenticated opens it.
. "$(dirname "$0")/30-gateway-lib.bash"
start_daemon
"$BIN" deploy secret --image gpurun/hello >/dev/null 2>&1 || fail "deploy"
U=$(url secret)
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
c=$(code "$U/")
[ "$c" = 401 ] || fail "no token: $c"
curl -s -D - -o /dev/null "$U/" | grep -qi '^WWW-Authenticate: Bearer' || fail "no WWW-Authenticate"
c=$(code -H 'Authorization: Bearer not-a-jwt' "$U/")
[ "$c" = 403 ] || fail "malformed token: $c"
other=$("$BIN" auth print-identity-token --audience "$(url other)") || fail "token for other"
c=$(code -H "Authorization: Bearer $other" "$U/")
[ "$c" = 403 ] || fail "wrong audience: $c"
tok=$("$BIN" auth print-identity-token --audience "$U") || fail "print-identity-token"
c=$(code -H "Authorization: Bearer $tok" "$U/")
[ "$c" = 200 ] || fail "good token: $c"
c=$(code -H "X-Serverless-Authorization: Bearer $tok" "$U/")
[ "$c" = 200 ] || fail "X-Serverless-Authorization: $c"
# the token's signature covers its claims: a changed byte fails
bad="${tok%?}x"
[ "$bad" != "$tok" ] || bad="${tok%?}y"
c=$(code -H "Authorization: Bearer $bad" "$U/")
[ "$c" = 403 ] || fail "tampered token: $c"
"$BIN" deploy secret --allow-unauthenticated >/dev/null 2>&1 || fail "allow-unauthenticated"
c=$(code "$U/")
[ "$c" = 200 ] || fail "public now, got $c"
echo "ok"
