/* SPDX-License-Identifier: MIT */
/* The accept loop of the API server: it admits each connection through the registry (which
 * may evict an idle one to make room) and hands it to libmicrohttpd, answers a fixed 503 to
 * one it cannot admit, and enforces the registry's deadlines. One thread. */
#pragma once

#include <microhttpd.h>
#include <stddef.h>

#include "banger/error.h"
#include "http/conns.h"

struct bg_http_listener;

/* Start accepting on listen_fd (a listening stream socket, owned from here: closed by
 * bg_http_listener_stop, or now on failure). Admitted connections go to mhd (started with
 * MHD_USE_NO_LISTEN_SOCKET); refused ones get busy (busy_len bytes, a whole HTTP response,
 * copied; none when busy_len is 0, for TLS) and are closed. conns and mhd are borrowed and must
 * outlive the listener. Returns 0 or a negative errno with err set. */
int bg_http_listener_start(int listen_fd, struct bg_conns *conns, struct MHD_Daemon *mhd,
                           const char *busy, size_t busy_len, struct bg_http_listener **ret,
                           struct bg_error *err);

/* Stop accepting (new connections wait in the socket's backlog); deadlines are still
 * enforced. Idempotent. Accepts NULL. */
void bg_http_listener_pause(struct bg_http_listener *l);

/* End the loop, close the listening socket and every socket still being answered 503, and
 * free l. Accepts NULL. */
void bg_http_listener_stop(struct bg_http_listener *l);

/* The client key of a connected socket: "pid N" of the peer process on a unix socket
 * (SO_PEERCRED), the address (without port) on TCP, "unknown" when neither can be read.
 * buf holds BG_CONNS_PEER_MAX bytes. Returns buf. */
const char *bg_http_peer_key(int fd, char buf[BG_CONNS_PEER_MAX]);
