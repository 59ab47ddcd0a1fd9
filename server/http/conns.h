/* SPDX-License-Identifier: MIT */
/* The registry of open API connections: admission under a total and a per-client bound,
 * eviction of the oldest connection that is idle or still sending its request, and the
 * deadlines for sending a request and for idling between requests. Thread-safe: one lock,
 * which every call takes, so a connection is never shut down after its socket is closed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BG_CONNS_PEER_MAX 48 /* "pid 12345", "203.0.113.7", "[2001:db8::1]" */

struct bg_conns;
struct bg_conn; /* one connection's entry, owned by the registry */

/* What a registry enforces. */
struct bg_conns_limits {
    size_t max;            /* connections open at once */
    size_t hard_max;       /* entries at once, those shut down and not yet closed included:
                            * the HTTP library's own limit must be above it */
    size_t per_client_max; /* connections of one client (peer key) at once */
    int64_t header_ms;     /* to send a request's line and headers, and again its body */
    int64_t idle_ms;       /* a kept-alive connection between requests */
    void (*kill)(int fd);  /* ends a connection: shutdown(fd, SHUT_RDWR) (tests record) */
};

/* Where a connection is. Evictable: RECEIVING and IDLE. One killed before libmicrohttpd
 * started it is shut down as it starts. */
enum bg_conn_state {
    BG_CONN_RECEIVING, /* sending a request's line, headers or body: header deadline */
    BG_CONN_ACTIVE,    /* inside a request: its handler runs or its reply goes out */
    BG_CONN_IDLE,      /* kept alive between requests: idle deadline */
    BG_CONN_UPGRADED,  /* switched protocols: a stream that lasts as long as it lasts */
    BG_CONN_CLOSING,   /* shut down by the registry, its close not yet seen */
    BG_CONN_STREAMING, /* a streamed request body waits for the client's next bytes: header
                        * deadline from the last ones; not evictable (its handler runs) */
};

/* The events that move a connection between states. */
enum bg_conn_event {
    BG_CONN_EV_REQUEST_LINE, /* a request line arrived: an IDLE connection is RECEIVING */
    BG_CONN_EV_HEADERS,      /* headers complete: the body (if any) has header_ms again */
    BG_CONN_EV_HANDLER,      /* the request is complete and handled: ACTIVE */
    BG_CONN_EV_UPGRADE,      /* a 101 is queued: UPGRADED */
    BG_CONN_EV_DONE,         /* the reply is out: IDLE (an UPGRADED one stays) */
    BG_CONN_EV_STREAM,       /* a streamed body's handler took its last bytes: STREAMING */
};

/* A new registry (lim copied). Never fails. */
struct bg_conns *bg_conns_new(const struct bg_conns_limits *lim);
/* Free the registry and every entry left. Accepts NULL. */
void bg_conns_free(struct bg_conns *c);

/* Admit the accepted socket fd of client peer (a C string, cut to BG_CONNS_PEER_MAX) at
 * now_ms. At the client's bound, or at the total bound, first kill the oldest evictable
 * connection (of that client, then of anyone); returns true when fd is admitted (RECEIVING,
 * header deadline from now), false when every connection in the way is inside a request or
 * hard_max entries exist (the caller then answers 503 and closes fd). An entry with fd that
 * was never started (libmicrohttpd dropped it and the number came back) is forgotten first;
 * besides bg_conns_forget, that is the only way such an entry goes, so none vanishes while
 * libmicrohttpd may still count it. */
bool bg_conns_admit(struct bg_conns *c, int fd, const char *peer, int64_t now_ms);

/* Whether an admission now would find room under hard_max. While there is none (connections
 * evicted and not yet closed), the listener leaves new ones in the socket's backlog. */
bool bg_conns_has_room(struct bg_conns *c);

/* libmicrohttpd started serving fd: the entry admit made for it (or a new one, RECEIVING, if
 * admit's was forgotten meanwhile). Never NULL. */
struct bg_conn *bg_conns_started(struct bg_conns *c, int fd, int64_t now_ms);

/* Record ev for conn at now_ms. */
void bg_conns_event(struct bg_conns *c, struct bg_conn *conn, enum bg_conn_event ev,
                    int64_t now_ms);

/* conn holds something its close ends (an auto-remove VM): from now on it is never evicted
 * and has no idle deadline. */
void bg_conns_hold(struct bg_conns *c, struct bg_conn *conn);

/* Forget the entry admit made for fd, which libmicrohttpd refused (and closed) without
 * starting it. */
void bg_conns_forget(struct bg_conns *c, int fd);

/* libmicrohttpd is about to close conn's socket: forget and free it. Accepts NULL. */
void bg_conns_closed(struct bg_conns *c, struct bg_conn *conn);

/* Kill every connection past its deadline at now_ms (one not yet started is shut down as it
 * starts). Returns the earliest deadline left (ms), or INT64_MAX. */
int64_t bg_conns_expire(struct bg_conns *c, int64_t now_ms);

/* Counts, for tests and logs: connections that count against the bounds (not CLOSING), all
 * of them or (peer not NULL) those of one client. */
size_t bg_conns_count(struct bg_conns *c, const char *peer);
/* The state of the entry for fd (CLOSING included), or -1 when there is none. */
int bg_conns_state(struct bg_conns *c, int fd);
