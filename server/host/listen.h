/* SPDX-License-Identifier: MIT */
/* The daemon's hold on its directories and ports: state-dir lock, the API's unix socket and
 * its TCP listener. */
#pragma once

#include <sys/socket.h>

#include "banger/error.h"

#define BG_LISTEN_TCP_TEXT_MAX 64 /* "[ffff:...:ffff]:65535" and the NUL */

/* Create state_dir if needed and take its exclusive lock (state_dir/bangerd.lock, which
 * records our pid). -EBUSY when a live bangerd holds it, naming its pid. *ret_fd keeps the
 * lock until closed. */
int bg_state_lock(const char *state_dir, int *ret_fd, struct bg_error *err);

/* Bind and listen on a unix socket at path, mode 0600, its directory created 0700. A stale
 * socket (nobody accepting) is replaced; a live one is -EADDRINUSE; a path that exists and
 * is not a socket is -EEXIST and left alone. */
int bg_listen_unix(const char *path, int *ret_fd, struct bg_error *err);

/* Parse "ADDR:PORT" (an IPv4 address in dotted quads, or an IPv6 one in brackets, "[::1]:8443";
 * no host names; PORT 0..65535, 0 picking a free one) into *ret (len bytes into *ret_len).
 * -EINVAL with err saying what is wrong. */
int bg_listen_tcp_parse(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len,
                        struct bg_error *err);

/* Bind and listen on TCP at text (bg_listen_tcp_parse), SO_REUSEADDR, close-on-exec. *ret_fd
 * is the socket; ret_bound (BG_LISTEN_TCP_TEXT_MAX bytes) the address as bound, its port
 * filled in. -errno from bind (-EADDRINUSE, -EACCES) with err naming the address. */
int bg_listen_tcp(const char *text, int *ret_fd, char ret_bound[BG_LISTEN_TCP_TEXT_MAX],
                  struct bg_error *err);
