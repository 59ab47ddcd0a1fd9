#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: api-docs.sh PAGE
#
# contract/api-docs: opens the HTML API reference PAGE (built by docs/build-api-docs.sh,
# which this runs first when PAGE is missing or older than openapi.yaml) in headless
# Chromium, twice: as built, and without Redoc's prerendered markup (so the inlined bundle
# must render it, offline). Each time every route of openapi.yaml must be shown and the page
# may ask the network for nothing (api-docs.mjs). Chromium can reach nothing: every host
# name resolves to nothing, and its background services are off. Exits 77 (skipped) when
# there is no Chromium, 1 when a check fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
page="${1:?usage: api-docs.sh PAGE}"
spec="$here/../../openapi.yaml"

browser=""
for b in chromium chromium-browser; do
    if command -v "$b" >/dev/null 2>&1; then
        browser="$(command -v "$b")"
        break
    fi
done
if [[ -z "$browser" ]]; then
    echo "api-docs.sh: skipped: no chromium on PATH (scripts/bootstrap installs it)" >&2
    exit 77
fi

"$here/npm-ci.sh"
if [[ ! -f "$page" || "$spec" -nt "$page" ]]; then
    "$here/../../docs/build-api-docs.sh" "$page" "$spec"
fi
page="$(realpath -- "$page")"

work="$(mktemp -d "${TMPDIR:-/tmp}/banger-api-docs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
node "$here/api-docs.mjs" bare "$page" "$work/bare.html"

# render NAME FILE: dump FILE's DOM after its scripts ran, with a net log and the console.
render() {
    local name="$1" file="$2"
    # A profile and HOME of its own: nothing read from or written to the user's.
    if ! HOME="$work/home-$name" timeout 120 "$browser" --headless --no-sandbox --disable-gpu \
        --user-data-dir="$work/profile-$name" --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-default-apps \
        --disable-extensions --disable-sync --disable-domain-reliability --no-pings \
        --disable-breakpad --metrics-recording-only \
        --host-resolver-rules="MAP * ~NOTFOUND" \
        --log-net-log="$work/$name.netlog.json" --enable-logging=stderr --v=0 \
        --virtual-time-budget=15000 --dump-dom "file://$file" \
        >"$work/$name.dom.html" 2>"$work/$name.console.txt"; then
        tail -n 20 "$work/$name.console.txt" >&2
        echo "api-docs.sh: $browser failed on $file" >&2
        return 1
    fi
}

rc=0
for name in built bare; do
    file="$page"
    [[ "$name" == bare ]] && file="$work/bare.html"
    echo "== $name: $file" >&2
    if render "$name" "$file"; then
        node "$here/api-docs.mjs" check "$work/$name.dom.html" "$work/$name.netlog.json" \
            "$work/$name.console.txt" || rc=1
    else
        rc=1
    fi
done
exit "$rc"
