# SPDX-License-Identifier: MIT
# The TLS listener in integration tests (sourced after lib.sh): a daemon with listen_tcp on a
# free loopback port, and curl over TLS with a bearer token, every exchange recorded for the
# contract check like lib.sh's api.

# tls_start_daemon [ARGS...]: start_daemon with BANGERD_LISTEN_TCP=127.0.0.1:0 (the caller
# may set other BANGERD_* in front), then TLS_ADDR, TLS_FP (the certificate's SHA-256) and
# TLS_CERT (its file) from GET /v1/system/info.
tls_start_daemon() {
  BANGERD_LISTEN_TCP=${BANGERD_LISTEN_TCP:-127.0.0.1:0} start_daemon "$@"
  RECORDS=/dev/null api GET /v1/system/info
  TLS_ADDR=$(jq -r .tls.address <<<"$BODY")
  TLS_FP=$(jq -r .tls.fingerprint <<<"$BODY")
  TLS_CERT=$(jq -r .tls.certificate <<<"$BODY")
  [[ "$TLS_ADDR" == 127.0.0.1:* ]] || { echo "no TLS listener: $BODY" >&2; exit 1; }
}

TLS_SRC=0

# tcp_api METHOD PATH [BODY] [curl args...]: one exchange over TLS to TLS_ADDR, trusting
# TLS_CERT, with "Authorization: Bearer $TOKEN" when TOKEN is set. Each comes from a loopback
# address of its own (127.0.1.N), so that the refusals a test means to see do not add up to the
# slow-down of one address; SRC=ADDR picks the address. Sets STATUS, BODY, CTYPE,
# HEADERS_FILE and CURL_RC (35 for a refused handshake), and records the exchange when there
# was an HTTP answer.
tcp_api() {
  local method=$1 path=$2 body=${3:-}
  shift $(($# < 3 ? $# : 3))
  local how=(-X "$method")
  [[ "$method" == HEAD ]] && how=(-I)
  local args=(-s "${how[@]}" --cacert "$TLS_CERT" -D "$T/headers" -o "$T/body" -w '%{http_code}')
  [[ -n "${TOKEN:-}" ]] && args+=(-H "Authorization: Bearer $TOKEN")
  TLS_SRC=$((TLS_SRC % 250 + 1))
  args+=(--interface "${SRC:-127.0.1.$TLS_SRC}")
  if [[ -n "$body" ]]; then
    args+=(--data-binary "$body" -H 'Content-Type: application/json')
  fi
  : >"$T/body"
  : >"$T/headers"
  CURL_RC=0
  STATUS=$(curl "${args[@]}" "$@" "https://$TLS_ADDR$path") || CURL_RC=$?
  BODY=$(cat "$T/body")
  [[ "$method" == HEAD ]] && BODY=
  HEADERS_FILE=$T/headers
  CTYPE=$(header Content-Type)
  if [[ "$STATUS" != 000 ]]; then record; fi
}

# make_cert NAME: a self-signed ECDSA certificate and key at $T/NAME.crt and $T/NAME.key;
# prints its SHA-256 fingerprint (64 lowercase hex digits).
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=$1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$T/$1.key" -out "$T/$1.crt" 2>/dev/null
  openssl x509 -in "$T/$1.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : |
    tr 'A-F' 'a-f'
}

# new_token NAME SCOPE,... [--expires D]: a token made over the unix socket, its secret printed.
new_token() {
  local name=$1 scopes=$2
  shift 2
  "$BANGER" token create --name "$name" --scope "$scopes" "$@" 2>/dev/null
}
