/* SPDX-License-Identifier: MIT */
/* The HTTP layer: libmicrohttpd glue, request context and reply helpers for handlers. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/macro.h"
#include "banger/problem.h"
#include "http/router.h"

struct bg_http_server;

#define BG_HTTP_PRINCIPAL_MAX 32 /* "token abcdefghijkl" */
#define BG_HTTP_AUTH_DETAIL_MAX 384

/* Who a request comes from, as the handler sees it. */
struct bg_http_principal {
    bool remote;                      /* came over TCP (TLS) and was authenticated */
    unsigned scopes;                  /* what it may do (enum bg_scope); all on the socket */
    char name[BG_HTTP_PRINCIPAL_MAX]; /* "token <id>" over TCP, "" on the unix socket */
};

/* What the authentication hook of a TLS server is told about one request, before any of
 * its text is looked at (only its headers have arrived). Borrowed for the call. */
struct bg_http_credentials {
    const char *peer;        /* the client's address, its key for bounds and slow-downs */
    const char *token;       /* the bearer token (NUL-terminated), or NULL */
    const char *bearer_why;  /* when token is NULL: why there is none (a sentence) */
    bool has_cert;           /* the client presented a certificate */
    uint8_t cert_sha256[32]; /* the SHA-256 of its DER, when has_cert */
};

/* The hook's answer. On a refusal, problem is unauthorized, client_certificate_required or
 * too_many_auth_failures (then retry_after_s is set), and detail says why to the client. */
struct bg_http_auth_result {
    enum bg_problem problem;
    char detail[BG_HTTP_AUTH_DETAIL_MAX];
    unsigned retry_after_s;
    struct bg_http_principal principal; /* on success: scopes and name */
};

/* Authenticate one request of a TLS server: 0 with ret->principal, or -1 with the refusal in
 * ret. Runs on the connection's thread, for every request, and must not block for long. */
typedef int (*bg_http_authenticate_fn)(void *cls, const struct bg_http_credentials *c,
                                       struct bg_http_auth_result *ret);

/* A TLS listener's identity and its client-certificate request. PEM text, borrowed for the
 * server's life. */
struct bg_http_tls {
    const char *cert_pem;  /* the certificate chain, leaf first */
    const char *key_pem;   /* the leaf's key */
    const char *trust_pem; /* NULL: no client certificate is asked for; else one is asked
                            * for (GnuTLS does not check it: the hook decides) */
};

/* What a server serves: its routes and limits. Borrowed for the server's life. A limit left
 * 0 takes its default (the config key's). */
struct bg_http_config {
    const struct bg_route *routes; /* the route table, n_routes entries (bg_router_check) */
    size_t n_routes;
    void *app;                     /* handed to every handler as req->app */
    size_t body_max_bytes;         /* request body cap */
    size_t connections_max;        /* connections open at once (http_connections_max, 256) */
    size_t client_connections_max; /* of one client: a peer process on a unix socket, an
                                    * address on TCP (http_client_connections_max, 32) */
    unsigned header_timeout_s;     /* to send a request's line and headers, and then again its
                                    * body (http_header_timeout_s, 10) */
    unsigned idle_timeout_s;       /* a kept-alive connection between requests
                                    * (http_idle_timeout_s, 60) */
    /* TCP with TLS: NULL for the unix socket, where every request may do everything. With it,
     * only TLS 1.3 is spoken, every request is authenticated by authenticate(auth_cls, ...)
     * before its text, query and body are looked at, and a route serves it only when the
     * principal holds the route's scope (a route without one is refused: local_only). */
    const struct bg_http_tls *tls;
    bg_http_authenticate_fn authenticate;
    void *auth_cls;
};

/* One request as a handler sees it. Everything is borrowed for the handler's duration. */
struct bg_http_request {
    struct MHD_Connection *conn;
    void *app; /* the server's bg_http_config.app */
    const char *method;
    const char *path;                        /* decoded path, no query string */
    const char *params[BG_ROUTE_PARAMS_MAX]; /* path parameters in template order */
    const char *body; /* request body (BG_ROUTE_BODY routes), or NULL (BG_ROUTE_STREAM: see
                       * bg_http_body_stream) */
    size_t body_len;
    struct bg_http_conn *http_conn;            /* the server's per-connection state, opaque */
    const struct bg_http_principal *principal; /* who asks; never NULL */
};

/* Runs on the connection's own thread once "101 Switching Protocols" went out: fd is the raw
 * socket (borrowed: the server closes it after fn returns; shutdown() is allowed), extra the
 * bytes the client sent after its request (treat as read from fd first). fn may block for as
 * long as the stream lasts. */
typedef void (*bg_http_upgrade_fn)(void *cls, int fd, const char *extra, size_t extra_len);

/* Start serving cfg's routes on listen_fd (an already bound and listening socket; the server
 * owns it from here, and closes it on failure too). Connections past cfg's bounds evict the
 * oldest idle or still-sending one, or get a 503 too_many_connections when every one is
 * inside a request. Returns 0 or a negative errno with err set (-EINVAL: a bad route table). */
int bg_http_server_start(const struct bg_http_config *cfg, int listen_fd,
                         struct bg_http_server **ret, struct bg_error *err);
/* The first step of a shutdown: stop accepting connections and answer 503 shutting_down to
 * every new request on a kept-alive one. Idempotent; accepts NULL. */
void bg_http_server_quiesce(struct bg_http_server *srv);
/* Quiesce, let in-flight requests finish for up to timeout_ms, then close everything.
 * Accepts NULL. */
void bg_http_server_stop(struct bg_http_server *srv, int timeout_ms);

/* Reply helpers: each queues the response and returns MHD_YES/MHD_NO for the handler to
 * return. json bodies are stolen. */
int bg_http_reply_json(struct bg_http_request *req, unsigned status, json_t *body);
int bg_http_reply_json_located(struct bg_http_request *req, unsigned status, json_t *body,
                               const char *location);
int bg_http_reply_empty(struct bg_http_request *req, unsigned status);
int bg_http_reply_problem(struct bg_http_request *req, enum bg_problem p, const char *field,
                          const char *fmt, ...) BG_PRINTF(4, 5);
/* A problem with extra members (merged into the problem object; stolen). */
int bg_http_reply_problem_ext(struct bg_http_request *req, enum bg_problem p, json_t *ext,
                              const char *fmt, ...) BG_PRINTF(4, 5);
/* Reply 500 internal for an unexpected failure, logging err once. */
int bg_http_reply_internal(struct bg_http_request *req, const struct bg_error *err);
/* Queue resp (not consumed by the caller afterwards) with the common headers. */
int bg_http_reply_response(struct bg_http_request *req, unsigned status, struct MHD_Response *resp);

/* Answer 101 Switching Protocols to `protocol` (the client asked with "Upgrade: protocol" and
 * "Connection: Upgrade") and hand the connection to fn(cls, ...). If the connection ends
 * before the upgrade happens, free_cls(cls) runs instead, so cls is released exactly once. */
int bg_http_reply_upgrade(struct bg_http_request *req, const char *protocol, bg_http_upgrade_fn fn,
                          void *cls, void (*free_cls)(void *cls));
/* bg_http_reply_upgrade with more headers on the 101 answer: headers is NULL or a
 * NULL-terminated list of name, value, name, value, ... (borrowed for the call). */
int bg_http_reply_upgrade_headers(struct bg_http_request *req, const char *protocol,
                                  const char *const *headers, bg_http_upgrade_fn fn, void *cls,
                                  void (*free_cls)(void *cls));
/* True when the request asks to upgrade to `protocol` (Upgrade and Connection headers). */
bool bg_http_wants_upgrade(struct bg_http_request *req, const char *protocol);

/* The receiver of a streamed request body (a BG_ROUTE_STREAM route). cls is the handler's. */
struct bg_http_body_sink {
    /* The next len bytes of the body (len > 0), in order, on the connection's thread. It may
     * block: nothing more is read from the client until it returns, which is the flow control
     * (the client's sends stall once the socket buffers fill). While it runs the connection
     * has no deadline; between calls the client has http_header_timeout_s to send more, or
     * the connection is closed. A negative return stops the delivery: the rest of the body is
     * read and dropped, and end still runs. */
    int (*data)(void *cls, const char *buf, size_t len);
    /* The body is complete (or data failed): reply as a handler does, and return its result.
     * Not called when the connection ends before the body does. */
    int (*end)(void *cls, struct bg_http_request *req);
    /* Release cls; runs exactly once, last, also when the connection broke mid-body. */
    void (*free)(void *cls);
};

/* The handler of a BG_ROUTE_STREAM route runs once the headers are in (req->body is NULL):
 * it either replies (a refusal: the body is then not read) or takes the body with this
 * call, handing it to sink with cls (borrowed sink, which must outlive the request; cls is
 * released by sink->free). Returns MHD_YES for the handler to return. */
int bg_http_body_stream(struct bg_http_request *req, const struct bg_http_body_sink *sink,
                        void *cls);

/* Whether the request's Content-Type is the media type `type` (parameters ignored). */
bool bg_http_content_type_is(struct bg_http_request *req, const char *type);

#define BG_HTTP_CLOSE_HOOKS_MAX 8 /* close hooks one connection may carry */

/* Run fn(cls) once when the connection req arrived on closes: the client closed it or went
 * away (killed, network gone), it failed or was shut down, an upgraded stream on it ended, or
 * the server stops. It runs on the connection's own thread (or the one stopping the server)
 * after the connection's last request, in the order the hooks were added, and may block (a
 * VM's removal); cls is fn's to release. A connection with a hook is held: it is no longer
 * evicted at the connection bounds nor closed for idling, since closing it has consequences.
 * Returns 0, or -ENOSPC (fn is then not kept) when the connection has
 * BG_HTTP_CLOSE_HOOKS_MAX hooks already or the request has no connection state. */
int bg_http_on_close(struct bg_http_request *req, void (*fn)(void *cls), void *cls);

/* Parse the body as a JSON object; on failure replies the problem itself and returns
 * -EINVAL, after which the handler returns *ret_mhd. */
int bg_http_body_object(struct bg_http_request *req, json_t **ret, int *ret_mhd);
/* A query parameter, or NULL. */
const char *bg_http_query(struct bg_http_request *req, const char *key);

/* True once the client of req has closed its end or the connection failed: a long request
 * (a one-shot exec, a workspace push) polls this to stop work nobody waits for. Never blocks
 * and never consumes what the client sent. */
bool bg_http_client_gone(struct bg_http_request *req);
/* The same for a connection, for work that outlives its handler's call (a streamed body's
 * reader callback). */
bool bg_http_connection_gone(struct MHD_Connection *conn);
