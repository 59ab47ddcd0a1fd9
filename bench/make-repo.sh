#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a git repository for the workspace transfer benchmark: FILES files spread over
# directories, about MIB MiB in all (incompressible content), committed.
#   bench/make-repo.sh DIR [FILES=10000] [MIB=100]
set -euo pipefail
dir=${1:?usage: make-repo.sh DIR [FILES] [MIB]}
files=${2:-10000}
mib=${3:-100}
per=$((mib * 1024 * 1024 / files))
mkdir -p "$dir"
git -C "$dir" init -q
python3 - "$dir" "$files" "$per" <<'PY'
import os, sys
d, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open('/dev/urandom', 'rb') as r:
    for i in range(n):
        os.makedirs(f"{d}/d{i % 100:03d}", exist_ok=True)
        with open(f"{d}/d{i % 100:03d}/f{i:05d}", 'wb') as f:
            f.write(r.read(per))
PY
git -C "$dir" add -A
git -C "$dir" -c user.name=bench -c user.email=bench@localhost commit -qm "benchmark repo"
echo "$dir: $files files, $(du -sm --exclude=.git "$dir" | cut -f1) MiB"
