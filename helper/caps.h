/* SPDX-License-Identifier: MIT */
/* The capabilities bangerd-root keeps: the smallest set its operations need (docs/privileges.md
 * says which operation needs which and why). Dropped once at start, for good. */
#pragma once

#include <stdbool.h>

#include "banger/error.h"

/* Keep only CAP_NET_ADMIN, CAP_KILL, CAP_SETUID and CAP_SETGID (and, with jailer true,
 * CAP_CHOWN and CAP_FOWNER to lay out the jail, plus the jailer's own set in the bounding set
 * so the jailer it execs gets them) in every set; clear the ambient set; with jailer false
 * also set no_new_privs. -EPERM when the process lacks one of them (not root). */
int bg_caps_drop(bool jailer, struct bg_error *err);

/* "cap_net_admin,cap_kill,..." of the effective set now, for the start line (static). */
const char *bg_caps_describe(void);
