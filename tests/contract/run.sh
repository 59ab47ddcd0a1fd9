#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: run.sh [RECORD_FILE] [ROUTES_FILE]
#
# The REST contract checks: installs the pinned node packages when node_modules is absent
# or older than package-lock.json, lints openapi.yaml, then, when given (and not ""),
# checks ROUTES_FILE (`bangerd --print-routes` output) with routes.mjs and RECORD_FILE
# (recorded exchanges, JSON Lines) with validate.mjs. Exits non-zero if any step fails.
# VALIDATE_FLAGS (e.g. "--require-headers --coverage") is passed to validate.mjs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
records="${1:-}"
routes="${2:-}"

# Resolve the inputs before changing directory.
[[ -n "$records" ]] && records="$(realpath -- "$records")"
[[ -n "$routes" ]] && routes="$(realpath -- "$routes")"

cd "$here"

"$here/npm-ci.sh"

rc=0
echo "== lint openapi.yaml" >&2
./lint.sh || rc=1

if [[ -n "$routes" ]]; then
    echo "== routes: $routes" >&2
    node routes.mjs "$routes" || rc=1
fi
if [[ -n "$records" ]]; then
    echo "== validate: $records" >&2
    # shellcheck disable=SC2086 # VALIDATE_FLAGS is a list of flags
    node validate.mjs ${VALIDATE_FLAGS:-} "$records" || rc=1
fi
exit "$rc"
