#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# banger system install/uninstall into a temporary --root: every file, mode and owner, the
# units clean under systemd-analyze verify and scored by systemd-analyze security (at most
# 2.0 for bangerd.service, 3.0 for bangerd-root.service), idempotence, --dry-run writing
# nothing, uninstall leaving nothing but user data (and that too with --purge). systemd is
# not PID 1 in CI, so nothing is enabled: the units are checked offline.
set -euo pipefail

BANGER=${BANGER:?} BANGERD=${BANGERD:?} BANGERD_ROOT=${BANGERD_ROOT:?}
command -v systemd-analyze >/dev/null ||
  { echo "skip: needs systemd-analyze (package systemd; scripts/bootstrap)" >&2; exit 77; }
if [[ $(id -u) -ne 0 ]]; then echo "skip: needs root (owners, a user to create)" >&2; exit 77; fi

fail() { echo "FAIL: $*" >&2; exit 1; }
WORK=$(mktemp -d)
OWNER=bgsysinst$$
cleanup() { rm -rf "$WORK"; userdel "$OWNER" 2>/dev/null || true; }
trap cleanup EXIT
useradd --system --no-create-home --shell /usr/sbin/nologin "$OWNER"
UID_=$(id -u "$OWNER") GID_=$(id -g "$OWNER")
R=$WORK/root P=$WORK/prefix
mkdir -p "$R" "$P/bin" "$P/sbin"
ln -s "$BANGERD" "$P/bin/bangerd"
ln -s "$BANGERD_ROOT" "$P/sbin/bangerd-root"

# refusals: unknown owner, root as owner, a --root that is not a directory, not root
out=$("$BANGER" system install --owner no-such-user-$$ --root "$R" 2>&1) && fail "unknown user taken"
[[ $out == *"--owner 'no-such-user-$$': no such user"* ]] || fail "unknown user: $out"
out=$("$BANGER" system install --owner root --root "$R" 2>&1) && fail "root taken as owner"
[[ $out == *"may not be root"* ]] || fail "root owner: $out"
out=$("$BANGER" system install --owner "$OWNER" --root "$WORK/nope" 2>&1) && fail "bad --root taken"
[[ $out == *"is not an absolute path to a directory"* ]] || fail "bad root: $out"
out=$(setpriv --reuid "$OWNER" --regid "$GID_" --clear-groups "$BANGER" system install \
  --owner "$OWNER" 2>&1) && fail "non-root install taken"
[[ $out == *"run it as root"* ]] || fail "non-root: $out"
[[ -z $(ls -A "$R") ]] || fail "a refusal wrote something"

# --dry-run prints every file (with its content) and command, writes nothing
out=$("$BANGER" system install --owner "$OWNER" --root "$R" --prefix "$P" --dry-run)
[[ -z $(ls -A "$R") ]] || fail "--dry-run wrote: $(ls -A "$R")"
for f in /etc/banger/install.toml /etc/systemd/system/bangerd.service \
  /etc/systemd/system/bangerd-root.service /etc/sysctl.d/60-banger.conf \
  /etc/modules-load.d/banger.conf /etc/tmpfiles.d/banger.conf /var/lib/banger \
  /var/cache/banger /run/banger /var/lib/banger-helper; do
  grep -q "would .* $f\$" <<<"$out" || fail "--dry-run does not show $f: $out"
done
grep -q "^owner_uid = $UID_\$" <<<"$out" || fail "--dry-run does not show install.toml's content"
grep -q "not run (--root.*systemctl enable --now bangerd-root.service bangerd.service" <<<"$out" ||
  fail "--dry-run does not show the commands: $out"

out=$("$BANGER" system install --owner "$OWNER" --root "$R" --prefix "$P")
grep -q "made 11 changes" <<<"$out" || fail "install: $out"
grep -q "^resolver: no systemd-resolved" <<<"$out" || fail "no resolver not said: $out"
check() { # PATH MODE OWNER
  local got
  got=$(stat -c '%a %u:%g %F' "$R$1") || fail "missing $1"
  [[ $got == "$2 $3"* ]] || fail "$1: $got, want $2 $3"
}
check /etc/banger 755 0:0
check /etc/banger/install.toml 644 0:0
check /etc/systemd/system/bangerd.service 644 0:0
check /etc/systemd/system/bangerd-root.service 644 0:0
check /etc/sysctl.d/60-banger.conf 644 0:0
check /etc/modules-load.d/banger.conf 644 0:0
check /etc/tmpfiles.d/banger.conf 644 0:0
check /var/lib/banger-helper 700 0:0
check /var/lib/banger 750 "$UID_:$GID_"
check /var/cache/banger 750 "$UID_:$GID_"
check /run/banger 750 "$UID_:$GID_"
grep -qx "net.ipv4.ip_forward = 1" "$R/etc/sysctl.d/60-banger.conf" || fail "sysctl drop-in"
for m in tun vhost_vsock nf_tables; do
  grep -qx "$m" "$R/etc/modules-load.d/banger.conf" || fail "modules-load lacks $m"
done
grep -qx "d /run/banger 0750 $UID_ $GID_ -" "$R/etc/tmpfiles.d/banger.conf" || fail "tmpfiles"
grep -qx "User=$OWNER" "$R/etc/systemd/system/bangerd.service" || fail "User= not the owner"
grep -qx "ExecStart=$P/bin/bangerd --system" "$R/etc/systemd/system/bangerd.service" ||
  fail "bangerd ExecStart"
grep -qx "ExecStart=$P/sbin/bangerd-root --install /etc/banger/install.toml" \
  "$R/etc/systemd/system/bangerd-root.service" || fail "bangerd-root ExecStart"
# (that api/src/install.c reads install.toml back is tests/unit/test_cli_sysplan.c's)
grep -qx "owner_uid = $UID_" "$R/etc/banger/install.toml" || fail "owner_uid"
grep -qx "owner_gid = $GID_" "$R/etc/banger/install.toml" || fail "owner_gid"

# the units: verify clean, exposure within the goal
verify=$(systemd-analyze verify "$R/etc/systemd/system/bangerd-root.service" \
  "$R/etc/systemd/system/bangerd.service" 2>&1) || fail "systemd-analyze verify: $verify"
[[ -z $verify ]] || fail "systemd-analyze verify is not clean: $verify"
score() {
  systemd-analyze security --offline=true --root="$R" "$1" 2>&1 |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p'
}
daemon=$(score bangerd.service) helper=$(score bangerd-root.service)
echo "exposure: bangerd.service $daemon, bangerd-root.service $helper"
[[ -n $daemon && -n $helper ]] || fail "no exposure level parsed"
awk -v d="$daemon" -v h="$helper" 'BEGIN { exit !(d <= 2.0 && h <= 3.0) }' ||
  fail "exposure over the goal: bangerd.service $daemon (max 2.0), bangerd-root.service $helper (max 3.0)"

# idempotent: a second install changes nothing and says so
before=$(find "$R" -printf '%p %m %u %g %s %T@\n' | sort)
out=$("$BANGER" system install --owner "$OWNER" --root "$R" --prefix "$P")
grep -q "nothing to change: already installed" <<<"$out" || fail "second install: $out"
[[ $before == "$(find "$R" -printf '%p %m %u %g %s %T@\n' | sort)" ]] || fail "second install changed files"
# a changed file is put back
echo "# local edit" >>"$R/etc/sysctl.d/60-banger.conf"
chmod 600 "$R/var/lib/banger"
out=$("$BANGER" system install --owner "$OWNER" --root "$R" --prefix "$P")
grep -q "made 2 changes" <<<"$out" || fail "repair: $out"
check /var/lib/banger 750 "$UID_:$GID_"

# uninstall: --dry-run removes nothing; then everything but user data goes
touch "$R/var/lib/banger/state.db" "$R/run/banger/bangerd.sock"
out=$("$BANGER" system uninstall --root "$R" --dry-run)
grep -q "would remove /etc/systemd/system/bangerd.service" <<<"$out" || fail "uninstall --dry-run: $out"
[[ -f $R/etc/systemd/system/bangerd.service ]] || fail "uninstall --dry-run removed a unit"
out=$("$BANGER" system uninstall --root "$R")
grep -q "kept /var/lib/banger (user data" <<<"$out" || fail "uninstall: $out"
left=$(cd "$R" && find . -mindepth 1 \( -type f -o -type l \) | sort)
[[ $left == "./var/lib/banger/state.db" ]] || fail "uninstall left: $left"
[[ ! -e $R/run/banger && ! -e $R/etc/banger ]] || fail "uninstall left runtime or /etc/banger"
out=$("$BANGER" system uninstall --root "$R")
grep -q "kept /var/lib/banger" <<<"$out" || fail "second uninstall: $out"
out=$("$BANGER" system uninstall --root "$R" --purge)
[[ -z $(cd "$R" && find . -mindepth 1 \( -type f -o -path './var/lib/banger*' -o -path './var/cache/banger*' \)) ]] ||
  fail "--purge left: $(cd "$R" && find .)"
out=$("$BANGER" system uninstall --root "$R" --purge)
grep -q "nothing to change: not installed" <<<"$out" || fail "uninstall of nothing: $out"
echo "ok"
