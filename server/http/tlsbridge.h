/* SPDX-License-Identifier: MIT */
/* An upgraded stream over TLS. libmicrohttpd 0.9.75 forwards an upgraded TLS connection through
 * whatever is left of the connection's memory pool, which the response head has taken by then:
 * 4 bytes a record. So bangerd carries the stream itself, on the connection's own thread and
 * through libmicrohttpd's TLS session: the stream gets one end of a socketpair, as it gets the
 * socket on the unix socket, and this moves bytes between the other end and the session. */
#pragma once

#include <gnutls/gnutls.h>

#include "banger/error.h"

#define BG_TLS_BRIDGE_BUF (64 * 1024) /* bytes in flight each way */

/* Run fn(cls, fd) on a thread of its own, fd one end of a socketpair (closed after fn
 * returns), and carry bytes between the other end and session (TLS over the non-blocking
 * socket tcp_fd, borrowed) until fn has returned, what it sent is out, and the client hung up,
 * or linger_ms after fn returned (a client that does not hang up). When the client goes
 * first, fn's socket reaches end of file. Returns 0 once fn returned, or -errno with err set
 * when the socketpair or the thread cannot be made (fn was not called). */
int bg_tls_bridge_run(gnutls_session_t session, int tcp_fd, void (*fn)(void *cls, int fd),
                      void *cls, int linger_ms, struct bg_error *err);
