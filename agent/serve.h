/* SPDX-License-Identifier: MIT */
/* The agent's protocol loop: one host connection at a time, every session multiplexed on it. */
#pragma once

#include <stdbool.h>

#include "banger/error.h"

/* Why bg_serve_conn returned. */
enum bg_serve_end {
    BG_SERVE_LOST = 0,     /* the host went away or broke the protocol: wait for the next */
    BG_SERVE_POWEROFF = 1, /* the host asked to power off */
    BG_SERVE_REBOOT = 2,   /* the host asked to reboot */
};

struct bg_serve;

/* New serve state. Blocks SIGCHLD in the calling (only) thread and watches it through a
 * signalfd, so children are reaped inside the loop. Returns 0 or <0 with err. */
int bg_serve_new(struct bg_serve **ret, struct bg_error *err);

/* Free s (accepts NULL). Kills what sessions are left. */
void bg_serve_free(struct bg_serve *s);

/* What CONNECT may do about ssh: root is the prefix of root's ~/.ssh/authorized_keys (which
 * "authorized_key" extends) and of /etc/ssh (whose host keys "host_keys" reports): "" in a
 * guest, a directory in host-test mode, NULL (the default) to refuse both. sshd: the image's
 * sshd was started, which HELLO tells the host as the capability "sshd". root is copied. */
void bg_serve_set_ssh(struct bg_serve *s, const char *root, bool sshd);

/* Serve the host on fd (borrowed; made non-blocking) until the connection ends: the host
 * sends HELLO first and the agent answers it, then EXEC and session frames follow (see
 * docs/agent-protocol.md). A framing error or a frame that breaks the protocol ends the
 * connection. On return every session has been killed and reaped. Returns enum bg_serve_end. */
enum bg_serve_end bg_serve_conn(struct bg_serve *s, int fd);

/* Reap exited children without blocking (PID 1's duty while no host is connected). */
void bg_serve_reap(struct bg_serve *s);
