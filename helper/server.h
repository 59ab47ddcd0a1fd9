/* SPDX-License-Identifier: MIT */
/* bangerd-root's socket: SOCK_SEQPACKET, one request and one reply per message, served one
 * connection at a time, only to the owner's uid (SO_PEERCRED); every other peer is refused
 * and logged. A pidfd in a reply travels as SCM_RIGHTS. */
#pragma once

#include <signal.h>

#include "banger/error.h"
#include "ops.h"

#define BG_HSERVER_REQUEST_MS 5000 /* a connected peer sends its request within this */

/* Listen on path (replacing a stale socket), owned by uid:gid and mode 0600. *ret_fd. */
int bg_hserver_listen(const char *path, uid_t uid, gid_t gid, int *ret_fd, struct bg_error *err);

/* Serve listen_fd until one of the signals in stop (blocked by the caller) arrives. */
int bg_hserver_run(struct bg_helperd *h, int listen_fd, const sigset_t *stop, struct bg_error *err);
