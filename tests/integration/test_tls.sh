#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The TCP listener: TLS 1.3 only, the certificate bangerd makes and keeps (its fingerprint in
# system info and the log) or the operator's own, bearer tokens (made, listed, scoped, expired,
# revoked at once, never leaking whether they exist), 401/403/429 bodies and headers, the
# slow-down of an address that keeps failing, mutual TLS enforced by the daemon, the CLI's
# remotes (pinned fingerprints, a changed certificate refused, BANGER_HOST), and the unix
# socket unaffected throughout. Loopback only; no VM boots (test_remote_exec.sh runs commands).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_tls.sh"
command -v openssl >/dev/null || skip "openssl is not installed"

BANGERD_HTTP_HEADER_TIMEOUT_S=3 tls_start_daemon

# --- the certificate: made at the first start, shown, logged, kept ---
expect_eq "$TLS_CERT" "$XDG_STATE_HOME/banger/tls/server.crt" "the generated certificate's file"
expect_eq "$(stat -c %a "$XDG_STATE_HOME/banger/tls/server.key")" 600 "the key is the owner's"
fp=$(openssl x509 -in "$TLS_CERT" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
expect_eq "$TLS_FP" "$fp" "system info's fingerprint is the SHA-256 of the certificate's DER"
expect_contains "$(cat "$DAEMON_LOG")" "SHA-256 fingerprint $fp" "the log names the fingerprint"
run_cli 0 system info
expect_contains "$OUT" "$fp" "banger system info shows the fingerprint"

# --- TLS 1.3 only ---
tcp_api GET /v1/system/version "" --tlsv1.2 --tls-max 1.2
expect_eq "$CURL_RC" 35 "a TLS 1.2 client is refused in the handshake"
tcp_api GET /v1/system/version "" --tlsv1.3
expect_problem 401 unauthorized
# plain HTTP to the TLS port gets no HTTP answer, and a client that never starts its
# handshake is closed by the header deadline (http_header_timeout_s, 3 here); neither
# disturbs the listener
out=$(python3 - "${TLS_ADDR%:*}" "${TLS_ADDR##*:}" <<'PY'
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=20)
s.sendall(b"GET /v1/system/version HTTP/1.1\r\nHost: b\r\n\r\n")
got = b""
try:
    while chunk := s.recv(4096):
        got += chunk
except OSError:
    pass
print("plain:", "http" if got.startswith(b"HTTP/") else "none")
s = socket.create_connection((host, port), timeout=20)
t0 = time.monotonic()
try:
    closed = s.recv(1) == b""
except ConnectionResetError:
    closed = True
except socket.timeout:
    closed = False
print("silent:", "closed" if closed else "open", int(time.monotonic() - t0))
PY
)
[[ "$out" == *"plain: none"* ]] && pass || fail "plain HTTP to the TLS port: $out"
[[ "$out" =~ silent:\ closed\ ([0-9]+) ]] && ((BASH_REMATCH[1] >= 2 && BASH_REMATCH[1] <= 10)) &&
  pass || fail "a silent client is not closed by the header deadline: $out"
tcp_api GET /v1/system/version "" --tlsv1.3
expect_problem 401 unauthorized

# --- tokens over the unix socket ---
FULL=$(new_token full read,write,exec,admin)
RO=$(new_token ro read)
[[ "$FULL" =~ ^bgr_[a-z2-7]{12}_[a-z2-7]{52}$ ]] && pass || fail "token format: $FULL"
api POST /v1/tokens '{"name":"ro","scopes":["read"]}'
expect_problem 409 token_exists name
api POST /v1/tokens '{"name":"x","scopes":["root"]}'
expect_problem 400 invalid_field scopes
api POST /v1/tokens '{"name":"x","scopes":["read","read"]}'
expect_problem 400 invalid_field scopes
api POST /v1/tokens '{"name":"x","scopes":[]}'
expect_problem 400 invalid_field scopes
api POST /v1/tokens '{"name":"x"}'
expect_problem 400 missing_field scopes
api POST /v1/tokens '{"name":"x","scopes":["read"],"expires_in_s":0}'
expect_problem 400 invalid_field expires_in_s
api POST /v1/tokens '{"name":"x","scopes":["read"],"secret":"mine"}'
expect_problem 400 unknown_field secret
api POST /v1/tokens '{"name":"Bad Name","scopes":["read"]}'
expect_status 400 "a token name that is not a DNS label"
api POST /v1/tokens '{"name":"made","scopes":["exec"],"expires_in_s":3600}'
expect_status 201 "POST /v1/tokens"
made_id=$(jq -r .id <<<"$BODY")
expect_eq "$(header Location)" "/v1/tokens/$made_id" "Location of the new token"
expect_json '.secret | startswith("bgr_'"$made_id"'_")' true "the secret is shown once, with its id"
expect_json .masked "bgr_${made_id}_****"
api GET "/v1/tokens/$made_id"
expect_status 200 "GET /v1/tokens/{id}"
expect_json 'has("secret")' false "the secret is never shown again"
expect_json '.scopes | join(",")' exec
api GET /v1/tokens
expect_status 200 "GET /v1/tokens"
expect_json '[.tokens[].name] | join(",")' "full,made,ro" "tokens listed by name"
expect_contains "$BODY" '"masked"' "the list shows masked tokens"
[[ "$BODY" != *"$FULL"* ]] && pass || fail "the list holds a secret"
api GET /v1/tokens/aaaaaaaaaaaa
expect_problem 404 token_not_found
api DELETE /v1/tokens/aaaaaaaaaaaa
expect_problem 404 token_not_found
api GET /v1/tokens/not-an-id
expect_problem 400 invalid_path
if cat "$XDG_STATE_HOME/banger/state.db"* | grep -aq "${FULL##*_}"; then
  fail "the database holds a secret"
else
  pass
fi
run_cli 0 token ls
expect_contains "$OUT" "bgr_${made_id}_****" "token ls shows the masked form"
run_cli 0 token create --name cli --scope read --json
expect_eq "$(jq -r '.secret | startswith("bgr_")' <<<"$OUT")" true "token create --json has the secret"
run_cli 2 token create --name x --scope read --expires 3x
expect_contains "$ERR" "is not a duration" "a bad --expires"
run_cli 2 token create --name x --scope everything
expect_contains "$ERR" "is not a scope" "a bad --scope"
run_cli 0 token create --help
expect_contains "$OUT" "token create: the token's" "token create's --name is the token's"

# --- 401: missing, malformed, unknown, wrong; the same answer whether the token exists ---
TOKEN= tcp_api GET /v1/vms
expect_problem 401 unauthorized
expect_eq "$(header WWW-Authenticate)" 'Bearer realm="bangerd"' "challenge without a token"
TOKEN=not-a-token tcp_api GET /v1/vms
expect_problem 401 unauthorized
expect_eq "$(header WWW-Authenticate)" 'Bearer realm="bangerd", error="invalid_token"' \
  "challenge for a bad token"
malformed=$(jq -r .detail <<<"$BODY")
TOKEN=bgr_aaaaaaaaaaaa_$(printf 'a%.0s' {1..52}) tcp_api GET /v1/vms
expect_problem 401 unauthorized
unknown=$(jq -r .detail <<<"$BODY")
wrong="${FULL%_*}_$(printf 'b%.0s' {1..51})a"
TOKEN=$wrong tcp_api GET /v1/vms
expect_problem 401 unauthorized
expect_eq "$(jq -r .detail <<<"$BODY")" "$unknown" "a wrong secret of a real id reads like an unknown id"
expect_eq "$malformed" "$unknown" "a malformed token reads like an unknown one"
tcp_api GET /v1/vms "" -H "Authorization: Basic Zm9vOmJhcg=="
expect_problem 401 unauthorized
expect_contains "$(jq -r .detail <<<"$BODY")" "Bearer scheme" "another scheme"

# --- scopes: 403 with the scope named, checked before the route runs ---
TOKEN=$RO tcp_api GET /v1/vms
expect_status 200 "a read token lists VMs"
TOKEN=$RO tcp_api HEAD /v1/vms
expect_status 200 "HEAD with a read token"
TOKEN=$RO tcp_api POST /v1/vms '{"name":"a","image":"b"}'
expect_problem 403 insufficient_scope
expect_eq "$(header WWW-Authenticate)" \
  'Bearer realm="bangerd", error="insufficient_scope", scope="write"' "the missing scope named"
expect_contains "$(jq -r .detail <<<"$BODY")" "needs a token with the 'write' scope; this one has read"
TOKEN=$RO tcp_api POST /v1/vms/nosuch/exec '{"cmd":["true"]}'
expect_problem 403 insufficient_scope
expect_contains "$(jq -r .detail <<<"$BODY")" "'exec' scope" "a token without exec cannot exec"
TOKEN=$RO tcp_api GET /v1/tokens
expect_problem 403 insufficient_scope
TOKEN=$FULL tcp_api POST /v1/vms/nosuch/exec '{"cmd":["true"]}'
expect_problem 404 vm_not_found
TOKEN=$FULL tcp_api POST /v1/images '{"name":"x","kernel":"/etc/passwd"}'
expect_problem 403 local_only
expect_contains "$(jq -r .detail <<<"$BODY")" "unix socket only" "host paths stay local"
TOKEN=$FULL tcp_api POST /v1/vms/nosuch/workspace "{\"path\":\"$T\"}"
expect_problem 403 local_only
TOKEN=$FULL tcp_api GET /v1/system/info
expect_status 200 "system info over TCP"
TOKEN=$FULL RECORDS=/dev/null tcp_api GET /v1/nosuch
expect_problem 404 not_found
# a body is not read before the request is authorised: with "Expect: 100-continue" the
# client holds its body back until the server asks for it, and the 401 comes first
big=$(head -c 60000 /dev/zero | tr '\0' a)
TOKEN= tcp_api POST /v1/vms "{\"name\":\"$big\"}" -H 'Expect: 100-continue' --expect100-timeout 60
expect_problem 401 unauthorized
if grep -q '^HTTP/1.1 100' "$HEADERS_FILE"; then fail "the server asked for the body"; else pass; fi
# a token grants only what it holds
ADMIN=$(new_token adm admin)
TOKEN=$ADMIN tcp_api POST /v1/tokens '{"name":"escalate","scopes":["exec"]}'
expect_problem 403 insufficient_scope scopes
TOKEN=$ADMIN tcp_api POST /v1/tokens '{"name":"sub","scopes":["admin"]}'
expect_status 201 "an admin token makes an admin token"
TOKEN=$ADMIN tcp_api GET /v1/tokens
expect_status 200 "an admin token lists tokens"

# --- expiry and revocation take effect at once ---
SHORT=$(new_token short read --expires 1s)
expired() { TOKEN=$SHORT RECORDS=/dev/null tcp_api GET /v1/vms && [[ "$STATUS" == 401 ]]; }
wait_until 10 expired && pass || fail "an expired token still works"
TOKEN=$SHORT tcp_api GET /v1/vms
expect_problem 401 unauthorized
expect_contains "$(jq -r .detail <<<"$BODY")" "expired at" "the holder of the secret learns it expired"
api GET /v1/tokens
expect_json '.tokens[] | select(.name == "short") | .expired' true "listed as expired"
REV=$(new_token rev read)
TOKEN=$REV tcp_api GET /v1/vms
expect_status 200 "the token works before it is revoked"
run_cli 0 token rm rev
expect_contains "$OUT" "deleted token 'rev'"
TOKEN=$REV tcp_api GET /v1/vms
expect_problem 401 unauthorized
expect_eq "$(jq -r .detail <<<"$BODY")" "$unknown" "a revoked token is refused like an unknown one"

# --- the unix socket is unaffected: no token, every route ---
api GET /v1/vms
expect_status 200 "the unix socket needs no token"
api GET /v1/vms "" -H "Authorization: Bearer nonsense"
expect_status 200 "the unix socket ignores Authorization"

# --- the slow-down of one address (127.0.0.2), counted in the log, with Retry-After ---
for i in 1 2 3 4 5 6; do
  SRC=127.0.0.2 TOKEN=$wrong tcp_api GET /v1/vms
  expect_problem 401 unauthorized
done
expect_contains "$(cat "$DAEMON_LOG")" "authenticate request from 127.0.0.2" "failures are logged"
expect_contains "$(cat "$DAEMON_LOG")" "failed authentication 6 in a row from this address; blocked" \
  "the sixth failure in a row starts a block"
SRC=127.0.0.2 TOKEN=$FULL tcp_api GET /v1/vms
expect_problem 429 too_many_auth_failures
[[ "$(header Retry-After)" =~ ^[1-9][0-9]*$ ]] && pass || fail "Retry-After: '$(header Retry-After)'"
TOKEN=$FULL tcp_api GET /v1/vms
expect_status 200 "another address is not slowed down"
unblocked() { SRC=127.0.0.2 TOKEN=$FULL RECORDS=/dev/null tcp_api GET /v1/vms && [[ "$STATUS" == 200 ]]; }
wait_until 10 unblocked && pass || fail "the block did not end: $BODY"

# --- the CLI's remotes ---
printf '%s\n' "$FULL" >"$T/full.token"
printf '%s\n' "$RO" >"$T/ro.token"
bad_fp=$(printf '0%.0s' {1..64})
run_cli 1 remote add here "https://$TLS_ADDR" --token-file "$T/full.token" --fingerprint "$bad_fp"
expect_contains "$ERR" "presented a certificate with SHA-256 $TLS_FP, not the $bad_fp" \
  "a wrong fingerprint is refused"
run_cli 1 remote add here "https://$TLS_ADDR" --token-file "$T/full.token" </dev/null
expect_contains "$ERR" "without a terminal: pass --fingerprint $TLS_FP" "no silent trust"
run_cli 0 remote ls
expect_eq "$OUT" "NAME  URL  FINGERPRINT  TOKEN  CLIENT CERT" "nothing was added"
printf 'bgr_nope\n' >"$T/bad.token"
run_cli 1 remote add here "https://$TLS_ADDR" --token-file "$T/bad.token" --accept-certificate
expect_contains "$ERR" "does not hold a banger token"
run_cli 1 remote add here "http://$TLS_ADDR" --token-file "$T/full.token" --accept-certificate
expect_contains "$ERR" "not an https:// URL"
printf '%s\n' "$SHORT" >"$T/short.token"
run_cli 1 remote add here "https://$TLS_ADDR" --token-file "$T/short.token" --fingerprint "$TLS_FP"
expect_contains "$ERR" "refused the token" "remote add checks the token"
run_cli 0 remote add here "https://$TLS_ADDR" --token-file "$T/full.token" --fingerprint "$TLS_FP"
expect_contains "$OUT" "added remote 'here'"
run_cli 0 remote add ro "https://$TLS_ADDR" --token-file "$T/ro.token" --accept-certificate
expect_contains "$ERR" "$TLS_FP" "trust on first use shows the fingerprint"
expect_eq "$(stat -c %a "$XDG_CONFIG_HOME/banger/remotes.json")" 600 "the remotes file is the owner's"
run_cli 1 remote add here "https://$TLS_ADDR" --token-file "$T/full.token" --fingerprint "$TLS_FP"
expect_contains "$ERR" "a remote named 'here' exists"
run_cli 0 remote ls
expect_contains "$OUT" "$TLS_FP" "remote ls shows the pin"
[[ "$OUT" != *"$FULL"* ]] && pass || fail "remote ls shows a token"
run_cli 0 --remote here vm ls
run_cli 0 --remote here system info --json
expect_eq "$(jq -r .tls.fingerprint <<<"$OUT")" "$TLS_FP" "system info through the remote"
run_cli 0 vm ls --remote here
run_cli 1 --remote ro vm create x --image nosuch
expect_contains "$ERR" "needs a token with the 'write' scope" "a remote's scopes apply"
run_cli 0 --remote here token create --name viaremote --scope read
run_cli 0 --remote here token rm viaremote
run_cli 1 --remote nosuch vm ls
expect_contains "$ERR" "no remote named 'nosuch'"
run_cli 2 --remote here --socket "$SOCK" vm ls
BANGER_REMOTE=here run_cli 0 vm ls
# a changed certificate: the pin in the file no longer matches what the server shows
cp "$XDG_CONFIG_HOME/banger/remotes.json" "$T/remotes.saved"
jq --arg fp "$bad_fp" '.remotes.here.fingerprint = $fp' "$T/remotes.saved" >"$XDG_CONFIG_HOME/banger/remotes.json"
run_cli 1 --remote here vm ls
expect_contains "$ERR" "the certificate of remote 'here' (https://$TLS_ADDR) has changed: pinned SHA-256 $bad_fp, presented $TLS_FP" \
  "a changed certificate is refused with both fingerprints"
expect_contains "$ERR" "banger remote rm here" "and what to do"
cp "$T/remotes.saved" "$XDG_CONFIG_HOME/banger/remotes.json"
chmod 644 "$XDG_CONFIG_HOME/banger/remotes.json"
run_cli 1 --remote here vm ls
expect_contains "$ERR" "others may read it"
chmod 600 "$XDG_CONFIG_HOME/banger/remotes.json"
# BANGER_HOST and BANGER_TOKEN for CI
BANGER_HOST=https://$TLS_ADDR BANGER_TOKEN=$FULL BANGER_FINGERPRINT=$TLS_FP run_cli 0 vm ls
BANGER_HOST=https://$TLS_ADDR BANGER_TOKEN=$FULL run_cli 1 vm ls
expect_contains "$ERR" "certificate" "without a pin the system's CAs decide, and do not know it"
BANGER_HOST=https://$TLS_ADDR BANGER_FINGERPRINT=$TLS_FP run_cli 1 vm ls
expect_contains "$ERR" "BANGER_HOST needs BANGER_TOKEN"
BANGER_HOST=https://$TLS_ADDR BANGER_TOKEN=$wrong BANGER_FINGERPRINT=$TLS_FP run_cli 1 vm ls
expect_contains "$ERR" "the bearer token is not valid"
run_cli 0 remote rm ro
run_cli 1 remote rm ro
expect_contains "$ERR" "no remote named 'ro'"

# --- a restart keeps the certificate and the tokens ---
stop_daemon
BANGERD_LISTEN_TCP=$TLS_ADDR tls_start_daemon
expect_eq "$TLS_FP" "$fp" "the certificate is kept across restarts"
TOKEN=$FULL tcp_api GET /v1/vms
expect_status 200 "tokens survive a restart"

# --- mutual TLS: the daemon enforces the pinned client certificate ---
client_fp=$(make_cert client)
other_fp=$(make_cert other)
stop_daemon
BANGERD_LISTEN_TCP=$TLS_ADDR BANGERD_TLS_CLIENT_FINGERPRINTS="$client_fp, $(printf '1%.0s' {1..64})" \
  tls_start_daemon
TOKEN=$FULL tcp_api GET /v1/vms
expect_problem 401 client_certificate_required
expect_contains "$(jq -r .detail <<<"$BODY")" "presented none" "a client without a certificate completes the handshake and is refused"
TOKEN=$FULL tcp_api GET /v1/vms "" --cert "$T/other.crt" --key "$T/other.key"
expect_problem 401 client_certificate_required
expect_contains "$(jq -r .detail <<<"$BODY")" "$other_fp" "an unpinned certificate is named"
TOKEN= tcp_api GET /v1/vms "" --cert "$T/client.crt" --key "$T/client.key"
expect_problem 401 unauthorized
TOKEN=$FULL tcp_api GET /v1/vms "" --cert "$T/client.crt" --key "$T/client.key"
expect_status 200 "the pinned client certificate and a token"
run_cli 1 --remote here vm ls
expect_contains "$ERR" "pinned" "the CLI without a client certificate is refused"
run_cli 0 remote rm here
run_cli 0 remote add here "https://$TLS_ADDR" --token-file "$T/full.token" --fingerprint "$TLS_FP" \
  --client-cert "$T/client.crt" --client-key "$T/client.key"
run_cli 0 --remote here vm ls
BANGER_HOST=https://$TLS_ADDR BANGER_TOKEN=$FULL BANGER_FINGERPRINT=$TLS_FP \
  BANGER_CLIENT_CERT=$T/client.crt BANGER_CLIENT_KEY=$T/client.key run_cli 0 vm ls
api GET /v1/vms
expect_status 200 "the unix socket needs no client certificate"

# --- the operator's own certificate and key ---
op_fp=$(make_cert operator)
stop_daemon
BANGERD_TLS_CERT=$T/operator.crt BANGERD_TLS_KEY=$T/operator.key tls_start_daemon
expect_eq "$TLS_FP" "$op_fp" "the operator's certificate is served and shown"
expect_eq "$TLS_CERT" "$T/operator.crt" "its file is shown"
stop_daemon
rc=0
BANGERD_LISTEN_TCP=127.0.0.1:0 BANGERD_TLS_CERT=$T/operator.crt BANGERD_TLS_KEY=$T/other.key \
  "$BANGERD" >"$T/mismatch.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "a key that is not the certificate's stops the start"
expect_contains "$(cat "$T/mismatch.log")" "is not the key of the certificate"
rc=0
BANGERD_LISTEN_TCP=127.0.0.1:0 BANGERD_TLS_CERT=$T/operator.crt "$BANGERD" >"$T/half.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "tls_cert without tls_key"
expect_contains "$(cat "$T/half.log")" "tls_cert and tls_key go together"
rc=0
BANGERD_LISTEN_TCP=localhost:8443 "$BANGERD" >"$T/name.log" 2>&1 || rc=$?
expect_contains "$(cat "$T/name.log")" "host names are not resolved" "listen_tcp takes addresses"

finish
