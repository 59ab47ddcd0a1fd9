#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lint openapi.yaml with Redocly CLI (recommended ruleset, see redocly.yaml).
# Exits non-zero when the spec has errors. Needs `npm ci` run here first (run.sh does it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
spec="${1:-$here/../../openapi.yaml}"
redocly="$here/node_modules/.bin/redocly"

if [[ ! -x "$redocly" ]]; then
    echo "lint.sh: $redocly is missing; run 'npm ci' in $here (or use run.sh)" >&2
    exit 2
fi

# No network use: no telemetry, no update check.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1

# Drop the boxed Node.js 20 deprecation banner Redocly prints on stderr; keep the rest.
# (stdout goes straight to fd 3; only stderr runs through the filter.)
banner='^[[:space:]]*[╔║╚]'
rc=0
{
    "$redocly" lint --config "$here/redocly.yaml" --format codeframe "$spec" 2>&1 1>&3 3>&- |
        { LC_ALL=C.UTF-8 grep -v "$banner" || true; } >&2 || rc=$?
} 3>&1
exit "$rc"
