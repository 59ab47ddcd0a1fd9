# SPDX-License-Identifier: MIT
# The one place the ssh tests get an image whose rootfs has sshd (sourced, after
# ../integration/lib.sh and need_vm; bangerd runs, the default image is built).
#
# Until the development image (`banger image build --recipe dev`) is on this branch, this makes
# a small Debian 12 rootfs with openssh-server itself: mmdebstrap (as root) from the host's
# mirror, host keys removed as the dev image must not have them either (the agent makes each
# VM's own at its first boot), `mkfs.ext4 -d`, cached under $XDG_CACHE_HOME/ssh-rootfs by the
# package set and the mmdebstrap version, and imported with the default image's kernel and
# initrd. With the dev image, the body becomes: "$BANGER" image build --recipe dev "$1".

SSH_ROOTFS_PACKAGES=openssh-server

# ssh_image NAME: an image called NAME whose rootfs has /usr/sbin/sshd; skips the test when it
# cannot be made here.
ssh_image() {
  local name=$1 cache=$XDG_CACHE_HOME/ssh-rootfs key rootfs kernel initrd
  command -v mmdebstrap >/dev/null || skip "mmdebstrap is not installed (the test's sshd rootfs)"
  [[ $(id -u) -eq 0 ]] || skip "making the test's sshd rootfs needs root (mmdebstrap, mkfs.ext4 -d)"
  key=$(printf '%s\n' "$SSH_ROOTFS_PACKAGES" "$(mmdebstrap --version)" | sha256sum | cut -c1-16)
  rootfs=$cache/rootfs-$key.ext4
  if [[ ! -f "$rootfs" ]]; then
    local t0=$SECONDS work=$T/ssh-rootfs
    mkdir -p "$cache" "$work"
    if ! mmdebstrap --quiet --variant=apt --include="$SSH_ROOTFS_PACKAGES" \
      --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' bookworm "$work/root" \
      >"$T/mmdebstrap.log" 2>&1; then
      cat "$T/mmdebstrap.log" >&2
      fail "mmdebstrap of the sshd rootfs"
      finish
      exit 1
    fi
    mkfs.ext4 -q -d "$work/root" -F "$rootfs.tmp" 1G
    mv "$rootfs.tmp" "$rootfs"
    rm -rf "$work"
    echo "sshd rootfs: built in $((SECONDS - t0)) s ($rootfs)"
  fi
  api GET /v1/images/default
  kernel=$(jq -r .kernel.path <<<"$BODY")
  initrd=$(jq -r .initrd.path <<<"$BODY")
  run_cli 0 image import "$name" --kernel "$kernel" --initrd "$initrd" --rootfs "$rootfs"
}
