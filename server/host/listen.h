/* SPDX-License-Identifier: MIT */
/* The daemon's hold on its directories: state-dir lock and the API's unix socket. */
#pragma once

#include "banger/error.h"

/* Create state_dir if needed and take its exclusive lock (state_dir/bangerd.lock, which
 * records our pid). -EBUSY when a live bangerd holds it, naming its pid. *ret_fd keeps the
 * lock until closed. */
int bg_state_lock(const char *state_dir, int *ret_fd, struct bg_error *err);

/* Bind and listen on a unix socket at path, mode 0600, its directory created 0700. A stale
 * socket (nobody accepting) is replaced; a live one is -EADDRINUSE; a path that exists and
 * is not a socket is -EEXIST and left alone. */
int bg_listen_unix(const char *path, int *ret_fd, struct bg_error *err);
