#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A man page from a program's own --help and --version, by help2man, gzipped for
# share/man. For banger, every command's `banger GROUP VERB --help` goes in as well (a
# COMMANDS REFERENCE section), so the page says everything the CLI's help says.
#   manpage.sh HELP2MAN PROGRAM SECTION DESCRIPTION OUT.gz
set -euo pipefail
help2man=$1 prog=$2 section=$3 what=$4 out=$5
name=$(basename "$prog")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Help text as roff that prints it as it is: backslashes escaped, no line read as a request.
roff_verbatim() {
  printf '.nf\n'
  sed -e 's/\\/\\e/g' -e 's/^\([.'"'"']\)/\\\&\1/' -e 's/-/\\-/g'
  printf '.fi\n'
}

: >"$work/include"
if [[ "$name" == banger ]]; then
  # The commands are the lines of the top-level help's "Commands:" list: up to two
  # lower-case words (group and verb) before the placeholders and the summary.
  mapfile -t cmds < <("$prog" --help | awk '
    /^Commands:/ { on = 1; next }
    on && /^$/ { exit }
    on { w = ""; n = 0
         for (i = 1; i <= NF && n < 2 && $i ~ /^[a-z][a-z0-9-]*$/; i++) { w = w (n ? " " : "") $i; n++ }
         if (w != "" && w != "help") print w }')
  [[ ${#cmds[@]} -gt 0 ]] || { echo "manpage.sh: no commands in $name --help" >&2; exit 1; }
  {
    printf '[COMMAND REFERENCE]\n'
    for c in "${cmds[@]}"; do
      printf '.SS "banger %s"\n' "$c"
      # shellcheck disable=SC2086 # the command's words are separate arguments
      "$prog" $c --help | roff_verbatim
    done
  } >>"$work/include"
fi
printf '[SEE ALSO]\n' >>"$work/include"
for other in banger.1 bangerd.1 bangerd-root.8; do
  [[ "$other" == "$name.$section" ]] || printf '.BR %s (%s)\n' "${other%.*}" "${other##*.}"
done >>"$work/include"
printf '.PP\nThe documentation in /usr/share/doc/banger.\n' >>"$work/include"

version=$("$prog" --version | awk '{print $NF}')
"$help2man" --no-info --no-discard-stderr --section "$section" --name "$what" \
  --source "banger $version" --include "$work/include" --output "$work/page" "$prog"
mkdir -p "$(dirname "$out")"
gzip -9nc "$work/page" >"$out.tmp"
mv "$out.tmp" "$out"
