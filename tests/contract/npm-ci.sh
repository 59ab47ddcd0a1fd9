#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: npm-ci.sh
#
# Installs the pinned node packages of tests/contract (npm ci) when node_modules is absent
# or older than package-lock.json; a no-op otherwise. Concurrent callers (parallel tests,
# the api_docs build) are serialised with flock.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

install_deps() {
    local stamp=node_modules/.package-lock.json # written by npm on every install
    if [[ -f "$stamp" && ! package-lock.json -nt "$stamp" && ! package.json -nt "$stamp" ]]; then
        return 0
    fi
    echo "npm-ci.sh: installing node packages (npm ci)" >&2
    npm ci --no-audit --no-fund --loglevel=error
}

if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/banger-contract-npm-$(id -u).lock"
    flock 9
fi
install_deps
