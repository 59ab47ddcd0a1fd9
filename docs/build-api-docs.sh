#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: build-api-docs.sh OUT.html [SPEC]
#
# Builds the HTML API reference from openapi.yaml (or SPEC) with Redocly's build-docs, using
# the @redocly/cli pinned in tests/contract (installed there by npm ci when missing), then
# inlines the Redoc bundle that build-docs links from a CDN, so the page works offline:
# nothing it needs to render comes from the network (no Google fonts either).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
contract="$here/../tests/contract"
out="${1:?usage: build-api-docs.sh OUT.html [SPEC]}"
spec="${2:-$here/../openapi.yaml}"

"$contract/npm-ci.sh"

# No network use: no telemetry, no update check.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1

mkdir -p "$(dirname "$out")"
tmp="$(mktemp "$out.XXXXXX.html")"
trap 'rm -f "$tmp"' EXIT
# build-docs chatters on stdout and repeats schema warnings the lint already reports
# (contract/lint fails on errors); keep its output only when it fails.
if ! log="$("$contract/node_modules/.bin/redocly" build-docs "$spec" --disableGoogleFont \
    -o "$tmp" 2>&1)"; then
    printf '%s\n' "$log" >&2
    echo "build-api-docs.sh: redocly build-docs failed" >&2
    exit 1
fi
node "$here/inline-redoc.mjs" "$tmp" "$contract/node_modules/redoc" "$out"
