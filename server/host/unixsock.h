/* SPDX-License-Identifier: MIT */
/* Connecting to a unix stream socket by path: the QMP, agent, Firecracker and probe sockets. */
#pragma once

/* Connect a new SOCK_CLOEXEC stream socket to path. Returns 0 with *ret_fd, or a negative
 * errno (-ENAMETOOLONG when path does not fit sun_path; -ECONNREFUSED, -ENOENT ... from
 * connect) so that callers can tell "nobody listens yet" from real failures. */
int bg_unix_connect(const char *path, int *ret_fd);
