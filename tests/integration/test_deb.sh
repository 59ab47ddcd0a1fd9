#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian package: cpack packs this build (the calling build's binaries, no rebuild) into a
# temporary directory; the package holds the expected files and dependencies; apt-get
# installs it with its dependencies from the mirror; the installed programs run, bangerd
# finds the agent, man renders the pages, bash completes; remove and purge leave none of
# its files behind (it has no conffiles and no maintainer scripts). As root (dpkg);
# skipped otherwise.
#
# Environment (set by ctest): BUILD_DIR (the build tree with CPackConfig.cmake),
# BANGER_SANITIZED (1 in a sanitizer or fuzz build: skipped).
set -euo pipefail
: "${BUILD_DIR:?the build tree}"

if [[ "${BANGER_SANITIZED:-0}" == 1 ]]; then
  echo "skip: a sanitizer build packs a dynamic agent; the package is the plain build's" >&2
  exit 77
fi
if [[ $(id -u) -ne 0 ]]; then echo "skip: needs root (apt-get install)" >&2; exit 77; fi
for p in apt-get dpkg-deb dpkg-query cpack man readelf; do
  command -v "$p" >/dev/null || { echo "skip: needs $p (scripts/bootstrap)" >&2; exit 77; }
done
status() { dpkg-query -W -f='${Status}' banger 2>/dev/null || true; }
if [[ -n "$(status)" && "$(status)" != *not-installed ]]; then
  echo "skip: a banger package is already installed here; not replacing it" >&2
  exit 77
fi

failures=0
checks=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { checks=$((checks + 1)); }

T=$(mktemp -d /tmp/banger-deb.XXXXXX)
attempted=0
installed=0
cleanup() {
  if ((attempted)); then dpkg --purge banger >/dev/null 2>&1 || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive

# 1. Pack
if ! cpack --config "$BUILD_DIR/CPackConfig.cmake" -B "$T/out" >"$T/cpack.log" 2>&1; then
  cat "$T/cpack.log" >&2
  echo "FAIL: cpack" >&2
  exit 1
fi
debs=("$T"/out/banger_*.deb)
[[ ${#debs[@]} -eq 1 && -f "${debs[0]}" ]] || {
  echo "FAIL: cpack made no single banger_*.deb: $(ls "$T/out")" >&2
  exit 1
}
deb=${debs[0]}
echo "package: $(basename "$deb"), $(stat -c %s "$deb") bytes" >&2

# 2. What it holds
dpkg-deb -c "$deb" | awk '{print $1, $6}' >"$T/contents"
files=(
  usr/bin/banger usr/bin/bangerd usr/sbin/bangerd-root usr/lib/banger/banger-agent
  usr/share/bash-completion/completions/banger
  usr/share/man/man1/banger.1.gz usr/share/man/man1/bangerd.1.gz
  usr/share/man/man8/bangerd-root.8.gz
  usr/share/doc/banger/copyright usr/share/doc/banger/README.md
  usr/share/doc/banger/architecture.md usr/share/doc/banger/privileges.md
)
for f in "${files[@]}"; do
  grep -qx -- "-[rwx-]* \./$f" "$T/contents" && pass || fail "package lacks the file $f"
done
for f in usr/bin/banger usr/bin/bangerd usr/sbin/bangerd-root usr/lib/banger/banger-agent; do
  grep -qx -- "-rwxr-xr-x \./$f" "$T/contents" && pass || fail "$f is not mode 0755"
done
grep -E '^[^d]' "$T/contents" | grep -v -E ' \./usr/(bin|sbin|lib/banger|share)/' &&
  fail "files outside usr/{bin,sbin,lib/banger,share}" || pass
grep -q ' \./\(etc\|lib/systemd\|usr/lib/systemd\)/' "$T/contents" &&
  fail "the package ships units or config: system install writes them" || pass
dpkg-deb -c "$deb" | awk '{print $2}' | grep -qvx 'root/root' &&
  fail "files not owned by root" || pass

field() { dpkg-deb -f "$deb" "$1"; }
[[ "$(field Package)" == banger ]] && pass || fail "Package: $(field Package)"
depends=$(field Depends)
for d in qemu-system-x86 e2fsprogs nftables iproute2 libjansson4 libmicrohttpd12 libsqlite3-0 \
  libcurl4 libsodium23 libarchive13 libnl-route-3-200 libcap-ng0 libc6; do
  tr ',|' '\n\n' <<<"$depends" | sed -e 's/^ *//' -e 's/[ (].*//' | grep -qx -- "$d" && pass ||
    fail "Depends lacks $d: $depends"
done
recommends=$(field Recommends)
for d in mmdebstrap openssh-client; do
  [[ "$recommends" == *$d* ]] && pass || fail "Recommends lacks $d: $recommends"
done
[[ -n "$(field Maintainer)" ]] && pass || fail "no Maintainer"
[[ "$(field Description)" == *"banger system install --owner USER"* &&
  "$(field Description)" != *$'\n;'* ]] && pass || fail "Description: $(field Description)"

# 3. Install, with the dependencies resolved by apt
attempted=1
if apt-get install -y -q "$deb" >"$T/apt.log" 2>&1; then
  installed=1
  pass
else
  cat "$T/apt.log" >&2
  fail "apt-get install ./$(basename "$deb")"
fi
if ((installed)); then
  [[ "$(/usr/bin/banger --version)" == "banger $(field Version)" ]] && pass ||
    fail "banger --version: $(/usr/bin/banger --version 2>&1)"
  /usr/bin/bangerd --help | grep -q '^usage: bangerd' && pass || fail "bangerd --help"
  /usr/sbin/bangerd-root --version | grep -qx "bangerd-root $(field Version)" && pass ||
    fail "bangerd-root --version"
  # bangerd finds the agent at <its dir>/../lib/banger (server/vm/initrd.c); static, for the
  # initramfs
  agent=$(dirname "$(readlink -f /usr/bin/bangerd)")/../lib/banger/banger-agent
  [[ -x "$agent" ]] && pass || fail "no agent at $agent"
  readelf -l "$agent" | grep -q 'INTERP' && fail "the installed agent is not static" || pass
  # man renders each page from its section, and says what the CLI's help says
  for page in 1:banger 1:bangerd 8:bangerd-root; do
    LC_ALL=C MANWIDTH=100 man -P cat "${page%%:*}" "${page#*:}" >"$T/man.txt" 2>"$T/man.err" &&
      grep -q "${page#*:}" "$T/man.txt" && pass || fail "man ${page/:/ }: $(cat "$T/man.err")"
  done
  LC_ALL=C MANWIDTH=100 man -P cat 1 banger >"$T/man.txt" 2>/dev/null || true
  for s in 'COMMAND REFERENCE' 'banger vm run' '--remote NAME' 'SEE ALSO'; do
    grep -qF -- "$s" "$T/man.txt" && pass || fail "man banger lacks '$s'"
  done
  bash -c 'source /usr/share/bash-completion/completions/banger && complete -p banger' \
    >/dev/null 2>&1 && pass || fail "the installed bash completion registers no completion"
fi

# 4. Remove, then purge: none of its files stay
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print substr($6, 2)}' >"$T/files"
left() {
  local f
  while read -r f; do [[ -e "$f" || -L "$f" ]] && echo "$f"; done <"$T/files"
  for f in /usr/lib/banger /usr/share/doc/banger; do [[ -e "$f" ]] && echo "$f"; done
  return 0
}
if ((installed)); then
  apt-get remove -y -q banger >"$T/apt.log" 2>&1 && pass || {
    cat "$T/apt.log" >&2
    fail "apt-get remove banger"
  }
  [[ -z "$(left)" ]] && pass || fail "left after remove: $(left | tr '\n' ' ')"
  # The package has no conffiles, so remove already forgets it; purge must then be a no-op.
  dpkg --purge banger >"$T/apt.log" 2>&1 && pass || {
    cat "$T/apt.log" >&2
    fail "dpkg --purge banger"
  }
  [[ -z "$(status)" || "$(status)" == *not-installed ]] && pass ||
    fail "dpkg still has banger after purge: $(status)"
  [[ -z "$(left)" ]] && pass || fail "left after purge: $(left | tr '\n' ' ')"
fi

echo "$checks checks passed, $failures failed" >&2
[[ $failures -eq 0 ]]
