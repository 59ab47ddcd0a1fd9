#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a git repository for the workspace transfer benchmark: FILES files spread over 100
# directories (dNNN/fNNNNN, file i in directory i % 100), about MIB MiB in all
# (incompressible content from /dev/urandom), committed. Needs only coreutils and git.
#   bench/make-repo.sh DIR [FILES=10000] [MIB=100]
set -euo pipefail
dir=${1:?usage: make-repo.sh DIR [FILES] [MIB]}
files=${2:-10000}
mib=${3:-100}
per=$((mib * 1024 * 1024 / files))
mkdir -p "$dir/.split"
git -C "$dir" init -q
# one stream cut into FILES pieces named f00000..., then moved by their last two digits
head -c $((files * per)) /dev/urandom | split -b "$per" -d -a 5 - "$dir/.split/f"
for ((d = 0; d < 100; d++)); do
  dd=$(printf %02d "$d")
  mkdir -p "$dir/d0$dd"
  compgen -G "$dir/.split/f???$dd" >/dev/null || continue
  mv "$dir"/.split/f???"$dd" "$dir/d0$dd/"
done
rmdir "$dir/.split"
git -C "$dir" add -A
git -C "$dir" -c user.name=bench -c user.email=bench@localhost commit -qm "benchmark repo"
echo "$dir: $(git -C "$dir" ls-files | wc -l) files, $(du -sm --exclude=.git "$dir" | cut -f1) MiB"
