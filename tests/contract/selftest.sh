#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Self-test of the contract tooling against the fixtures in fixtures/:
# the good records and routes pass, every bad record fails (one failure per line), the bad
# route table shows its 5 differences, --require-headers catches missing headers, and the API
# reference check (api-docs.mjs) finds missing routes and network use.
# Needs node_modules (run.sh installs it; so does `npm ci` here).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here" || exit 2
fx=fixtures
failures=0

# expect NAME WANT_RC WANT_LAST_LINE_REGEX COMMAND...
expect() {
    local name="$1" want_rc="$2" want_re="$3" out rc last
    shift 3
    out="$("$@" 2>&1)"
    rc=$?
    last="$(printf '%s\n' "$out" | tail -n 1)"
    if [[ "$rc" -eq "$want_rc" && "$last" =~ $want_re ]]; then
        echo "ok   $name: $last"
    else
        echo "FAIL $name: exit $rc (want $want_rc), last line '$last' (want /$want_re/)"
        printf '%s\n' "$out" | sed 's/^/     | /'
        failures=$((failures + 1))
    fi
}

good_n=$(grep -c . "$fx/good.jsonl")
bad_n=$(grep -c . "$fx/bad.jsonl")
mh_n=$(grep -c . "$fx/missing-headers.jsonl")
routes_n=$(grep -c '^[A-Z]' "$fx/routes.good")

expect "lint" 0 'valid' ./lint.sh
expect "good records" 0 "^$good_n passed, 0 failed\$" node validate.mjs "$fx/good.jsonl"
expect "good records, all headers" 0 "^$good_n passed, 0 failed\$" \
    node validate.mjs --require-headers "$fx/good.jsonl"
expect "bad records" 1 "^0 passed, $bad_n failed\$" node validate.mjs "$fx/bad.jsonl"
expect "missing headers tolerated" 0 "^$mh_n passed, 0 failed\$" node validate.mjs "$fx/missing-headers.jsonl"
expect "missing headers required" 1 "^0 passed, $mh_n failed\$" \
    node validate.mjs --require-headers "$fx/missing-headers.jsonl"
expect "validate usage" 2 '^usage:' node validate.mjs
expect "good routes" 0 "^routes match: $routes_n routes\$" node routes.mjs "$fx/routes.good"
expect "bad routes" 1 '^routes differ: 5 difference' node routes.mjs "$fx/routes.bad"
expect "routes usage" 2 '^usage:' node routes.mjs
ad="$fx/api-docs"
expect "api docs: all routes, no network" 0 'all 3 routes of openapi.yaml rendered, no network use$' \
    env BANGER_OPENAPI="$ad/openapi.yaml" \
    node api-docs.mjs check "$ad/good.html" "$ad/good.netlog.json" "$ad/good.console.txt"
# bad.html: POST and DELETE missing, PATCH not in the spec; bad.netlog: a font; bad.console: a stylesheet.
expect "api docs: routes differ, network used" 1 ': 1 of the spec.s 3 routes shown; 5 problem\(s\)$' \
    env BANGER_OPENAPI="$ad/openapi.yaml" \
    node api-docs.mjs check "$ad/bad.html" "$ad/bad.netlog.json" "$ad/bad.console.txt"
expect "api docs: bare needs build-docs output" 2 'no <div id="redoc">' \
    node api-docs.mjs bare "$ad/good.netlog.json" /dev/null
expect "api docs usage" 2 '^usage:' node api-docs.mjs

if [[ "$failures" -ne 0 ]]; then
    echo "selftest: $failures check(s) failed"
    exit 1
fi
echo "selftest: all checks passed"
