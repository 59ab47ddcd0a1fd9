/* SPDX-License-Identifier: MIT */
/* PID 1 duties of the agent: mounts, kernel modules, the overlay root, power off. */
#pragma once

#include <stdbool.h>

#include "banger/error.h"
#include "listener.h"

/* Boot the guest as /init: mount proc, sys, dev (devtmpfs, with devpts and shm), run and
 * tmp; load every module listed in /lib/banger/modules.order (finit_module; already loaded
 * is fine); when the kernel command line has
 * banger.root=DEV, mount DEV read-only at /mnt/lower, the ext4 banger.overlay=DEV at /mnt/rw,
 * overlayfs of both at /mnt/root, move the mounts above into it and make it the root
 * (mount --move + chroot, so this process keeps running); mount banger.work=DEV at
 * /root/repo; then set up the network, hostname and resolv.conf (net.h) from banger.ip=,
 * banger.gw=, banger.dns= and banger.hostname=. *ret_channel is what banger.agent= asks for.
 * Returns 0, or <0 with err when the root could not be set up, banger.agent= is unknown, a
 * device word is too long to be read whole, or the command line itself is (the caller powers
 * off: the console says why). A missing module or work disk and any network problem are only
 * logged. */
int bg_init_boot(enum bg_agent_channel *ret_channel, struct bg_error *err);

/* Kill every other process, sync, unmount the work disk, and power off (or reboot).
 * Never returns. */
_Noreturn void bg_init_poweroff(bool reboot);
