/* SPDX-License-Identifier: MIT */
/* bangerd-root's operations: one handler per named operation, each on a request that
 * bg_hv_request passed, each recording what it made before it answers; and the reconcile of
 * the helper's own objects (at start, and when the daemon says which VMs exist). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/helperproto.h"
#include "banger/install.h"
#include "banger/proc.h"
#include "state.h"

/* The helper: its install, its record, who it is. */
struct bg_helperd {
    const struct bg_install *in;
    struct bg_hstate state;
    pid_t self;                      /* never signalled */
    char cgroup[BG_PROC_CGROUP_MAX]; /* the helper's own cgroup v2 path ("/" when none) */
};

/* Validate r and carry it out for peer uid, filling *ret (code 0 or -errno with message).
 * A pidfd to hand to the daemon goes into *ret_fd (else -1). Logs the action at info with
 * the peer's uid, or the refusal at warn. */
void bg_helperd_handle(struct bg_helperd *h, uid_t peer, const struct bg_helper_request *r,
                       struct bg_helper_reply *ret, int *ret_fd);

/* At start: forget recorded VMMs that are gone, delete taps with banger's prefix that no
 * record owns, and rebuild the NAT table from the record (or remove it when the bridge was
 * never ensured). */
int bg_helperd_start_reconcile(struct bg_helperd *h, struct bg_error *err);
