#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Hostile requests to every route bangerd serves (from bangerd --print-routes): bytes that are
# not UTF-8 or a character cut in the middle in the path, a query key or value and a header;
# %00 and control characters; huge and repeated parameters; deep JSON, wrong JSON types, keys
# that are not UTF-8 and unknown fields in bodies; a huge Content-Length. Each must be
# answered 4xx application/problem+json with a code, nothing may act, and the daemon must be
# alive and answering afterwards. Then the few malformed requests the HTTP library answers
# itself (docs/decisions.md), and the refusals the contract can describe, recorded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_tls.sh"

kernel=$T/vmlinuz
make_file "$kernel" 16
tls_start_daemon
import_image base "$kernel"
api POST /v1/vms '{"name":"keep","image":"base"}'
expect_status 201 "create keep"
"$BANGERD" --print-routes >"$T/routes"

# hostile.py SOCK ROUTES [HOST:PORT CERT TOKEN]: sends every case to every route, raw over the
# unix socket (most of these cannot be said with curl), or over TLS to HOST:PORT with the
# bearer TOKEN, and prints one line per answer that is not a 4xx problem, then "N cases on R
# routes, F failed".
cat >"$T/hostile.py" <<'EOF'
import json, re, socket, ssl, sys

sock_path, routes_file = sys.argv[1], sys.argv[2]
tls = sys.argv[3:6] if len(sys.argv) > 3 else None
# a valid value of each path parameter (by the collection it names), for a resource that does
# not exist
FILL = {"vms": "hostile-vm", "images": "hostile-image", "execs": "exec-0000000000000000",
        "operations": "op-0000000000000000", "tokens": "aaaaaaaaaaaa"}
DEEP = b"[" * 5000 + b"]" * 5000
BODIES = {
    "deep JSON": DEEP,
    "wrong JSON types": b'{"name":5,"image":[],"vcpus":"two","memory_mib":{},"cmd":"ls",'
                        b'"kernel":7,"path":[],"nat":"yes"}',
    "a body key that is not UTF-8": b'{"\xff\xfe":1}',
    "a body key cut in a character": b'{"caf\xc3":1}',
    "unknown fields": b'{"hostile_unknown":1,"another":true}',
    "not an object": b'[1,2,3]',
}


def connect():
    if not tls:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(sock_path)
        return s
    host, _, port = tls[0].rpartition(":")
    ctx = ssl.create_default_context(cafile=tls[1])
    return ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=10),
                           server_hostname=host)


def exchange(raw):
    s = connect()
    try:
        s.sendall(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (ConnectionResetError, ssl.SSLError):
        pass
    s.close()
    return data


def request(method, target, headers=(), body=None, content_length=None):
    lines = [f"{method} ".encode() + target + b" HTTP/1.1", b"Host: hostile", b"Connection: close"]
    if tls:
        lines.append(b"Authorization: Bearer " + tls[2].encode())
    lines += list(headers)
    if body is not None:
        lines += [b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    if content_length is not None:
        lines += [b"Content-Type: application/json", b"Content-Length: " + content_length]
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def check(method, data):
    """What is wrong with the answer: None when it is a 4xx problem with a code."""
    head, _, body = data.partition(b"\r\n\r\n")
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    if not m:
        return "no HTTP response: %r" % data[:80]
    status = int(m.group(1))
    if not 400 <= status <= 499:
        return f"status {status}"
    hdrs = {k.lower(): v for k, _, v in (l.partition(b": ") for l in head.split(b"\r\n")[1:])}
    if not hdrs.get(b"content-type", b"").startswith(b"application/problem+json"):
        return f"status {status} with content type {hdrs.get(b'content-type')}"
    if hdrs.get(b"banger-api-version") != b"1":
        return "no Banger-Api-Version"
    if method == "HEAD":
        return None if not body else "a body on HEAD"
    try:
        p = json.loads(body)
    except ValueError as e:
        return f"body is not JSON ({e})"
    if not isinstance(p, dict) or not isinstance(p.get("code"), str) or p.get("status") != status:
        return f"not a problem with a code: {body[:120]!r}"
    return None


def cases(method, path):
    """(name, raw request) for one route; path is the route's template, filled."""
    p = path.encode()
    yield "path not UTF-8 (raw byte)", request(method, p + b"\xff")
    yield "path not UTF-8 (encoded)", request(method, p + b"%ff")
    yield "path with a character cut", request(method, p + b"%c3")
    yield "path with %00", request(method, p + b"%00x")
    yield "path with a control character", request(method, p + b"%1b%5b31m")
    yield "raw control byte in the target", request(method, p + b"\x01")
    yield "query key not UTF-8", request(method, p + b"?%ff=1")
    yield "query value not UTF-8", request(method, p + b"?zz=%fe")
    yield "query value with a character cut", request(method, p + b"?zz=caf%c3")
    yield "query with %00", request(method, p + b"?zz=a%00b")
    yield "query key with %00", request(method, p + b"?z%00z=1")
    yield "huge query value", request(method, p + b"?zz=" + b"a" * 7000)
    yield "repeated parameter", request(method, p + b"?zz=1&zz=1")
    yield "many parameters", request(method, p + b"?" + b"&".join(b"k%d=1" % i for i in range(40)))
    yield "target over 8 KiB", request(method, p + b"?zz=" + b"a" * 9000)
    yield "header name not UTF-8", request(method, p, [b"X-\xff: 1"])
    yield "header value not UTF-8", request(method, p, [b"X-Note: caf\xc3"])
    yield "header value with a control character", request(method, p, [b"X-Note: a\x01b"])
    for name, body in BODIES.items():
        yield "body: " + name, request(method, p, body=body)
    yield "huge Content-Length", request(method, p, content_length=b"99999999999999999")


failed = total = routes = 0
for line in open(routes_file):
    routes += 1
    method, template = line.split()
    path = re.sub(r"/v1/([a-z]+)/\{[a-z]+\}", lambda m: f"/v1/{m.group(1)}/{FILL[m.group(1)]}",
                  template)
    for name, raw in cases(method, path):
        total += 1
        why = check(method, exchange(raw))
        if why:
            failed += 1
            print(f"{method} {template}: {name}: {why}")
print(f"{total} cases on {routes} routes, {failed} failed")
EOF
python3 "$T/hostile.py" "$SOCK" "$T/routes" >"$T/hostile.out" 2>&1 || true
summary=$(tail -n1 "$T/hostile.out")
n_routes=$(wc -l <"$T/routes")
if [[ "$summary" =~ ^([0-9]+)\ cases\ on\ ([0-9]+)\ routes,\ 0\ failed$ ]] &&
  ((BASH_REMATCH[2] == n_routes && BASH_REMATCH[1] >= 20 * n_routes)); then
  pass
else
  fail "hostile requests: $(head -n 40 "$T/hostile.out")"
fi

# the same over TLS with a token holding every scope: the gate comes first, then the same
# refusals (403 local_only for the routes that stay on the unix socket)
full=$(new_token hostile read,write,exec,admin)
python3 "$T/hostile.py" "$SOCK" "$T/routes" "$TLS_ADDR" "$TLS_CERT" "$full" \
  >"$T/hostile-tls.out" 2>&1 || true
summary=$(tail -n1 "$T/hostile-tls.out")
if [[ "$summary" =~ ^([0-9]+)\ cases\ on\ ([0-9]+)\ routes,\ 0\ failed$ ]] &&
  ((BASH_REMATCH[2] == n_routes && BASH_REMATCH[1] >= 20 * n_routes)); then
  pass
else
  fail "hostile requests over TLS: $(head -n 40 "$T/hostile-tls.out")"
fi

# --- the daemon is alive, answers, and nothing acted
kill -0 "$DAEMON_PID" && pass || fail "bangerd died"
api GET /v1/system/version
expect_status 200 "version after the hostile requests"
api GET /v1/vms
expect_json '[.vms[].name] | join(",")' keep "the VMs after the hostile requests"
api GET /v1/images
expect_json '[.images[].name] | join(",")' base "the images after the hostile requests"
run_cli 0 vm ls
expect_contains "$OUT" keep "banger vm ls after the hostile requests"

# --- what the HTTP library answers itself, with HTML and no Banger-Api-Version
# (docs/decisions.md): a request line that does not parse, an HTTP version it does not
# speak, a Content-Length over 2^64. Each is still an HTTP answer, and the daemon lives on.
cat >"$T/library.py" <<'EOF'
import re, socket, sys
def exchange(raw):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
    s.sendall(raw)
    data = b""
    try:
        while d := s.recv(65536):
            data += d
    except ConnectionResetError:
        pass
    return data
for name, raw in [
        ("no version", b"GET /v1/vms\r\n\r\n"),
        ("HTTP/2.0", b"GET /v1/vms HTTP/2.0\r\nHost: x\r\n\r\n"),
        ("Content-Length over 2^64", b"POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: "
         b"application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        ("header line without a colon", b"GET /v1/vms HTTP/1.1\r\nHost: x\r\nnocolon\r\n\r\n")]:
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", exchange(raw))
    print(name, m.group(1).decode() if m else "none")
EOF
python3 "$T/library.py" "$SOCK" >"$T/library.out" 2>&1 || true
expect_eq "$(paste -sd, "$T/library.out")" \
  "no version 400,HTTP/2.0 505,Content-Length over 2^64 413,header line without a colon 400" \
  "the HTTP library's own answers"
api GET /v1/system/version
expect_status 200 "version after the library's own answers"

# --- refusals the contract can describe, recorded
api GET "/v1/vms?zz=1"
expect_problem 400 invalid_query
expect_contains "$(jq -r .detail <<<"$BODY")" "unknown query parameter 'zz'"
api GET "/v1/vms?state=running&state=running"
expect_problem 400 invalid_query
expect_contains "$(jq -r .detail <<<"$BODY")" "query parameter 'state' is given more than once"
api GET /v1/vms/NotAName
expect_problem 400 invalid_path
expect_json .parameter name
expect_contains "$(jq -r .detail <<<"$BODY")" "path parameter 'name' is not a valid VM name"
long=a234567890123456789012345678901234567890123456789012345678901234
api PATCH "/v1/vms/$long" '{"vcpus":2}'
expect_problem 400 invalid_path
expect_contains "$(jq -r .detail <<<"$BODY")" "name is 64 characters long; the limit is 63"
api GET /v1/operations/bogus
expect_problem 400 invalid_path
expect_json .parameter id
api GET /v1/execs/not-an-id
expect_problem 400 invalid_path
expect_contains "$(jq -r .detail <<<"$BODY")" "not a valid exec id"
api POST /v1/vms/keep/start '{"force":true}'
expect_problem 400 unexpected_body
expect_contains "$(jq -r .detail <<<"$BODY")" "takes no request body"
api GET /v1/vms '' -H $'X-Note: a\x01b'
expect_problem 400 invalid_header
expect_contains "$(jq -r .detail <<<"$BODY")" "the value of header 'X-Note' holds a control character"

# --- HEAD: the same status and headers as GET, no body
api GET /v1/vms/keep
get_len=$(header Content-Length)
api HEAD /v1/vms/keep
expect_status 200 "HEAD /v1/vms/keep"
expect_eq "$(header Content-Length)" "$get_len" "HEAD's Content-Length"
expect_eq "$(header Content-Type)" application/json "HEAD's Content-Type"
expect_eq "$BODY" "" "HEAD has no body"
api HEAD /v1/vms/nosuch
expect_status 404 "HEAD on a missing VM"
expect_eq "$(header Content-Type)" application/problem+json "HEAD 404's Content-Type"
api HEAD /v1/system/version
expect_status 200 "HEAD /v1/system/version"
# a 405 to HEAD has no body, which the contract's 405 check cannot take
RECORDS=/dev/null api HEAD /v1/vms/keep/start
expect_status 405 "HEAD on a POST-only route"
expect_eq "$(header Allow)" POST "Allow on a POST-only route"

# --- and still alive
kill -0 "$DAEMON_PID" && pass || fail "bangerd died"
stop_daemon
expect_eq "$DAEMON_RC" 0 "exit code after SIGTERM"
finish
