/* SPDX-License-Identifier: MIT */
/* libmicrohttpd glue: request intake (target, query, headers, routing, media type, body cap),
 * replies, connections and shutdown. */
#include "http/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "banger/token.h"
#include "banger/utf8.h"
#include "http/auth.h"
#include "http/conns.h"
#include "http/encode.h"
#include "http/intake.h"
#include "http/listener.h"
#include "http/tlsbridge.h"

#define DEFAULT_CONNECTIONS_MAX 256
#define DEFAULT_CLIENT_CONNECTIONS_MAX 32
#define DEFAULT_HEADER_TIMEOUT_S 10
#define DEFAULT_IDLE_TIMEOUT_S 60
/* libmicrohttpd's per-connection memory, which holds the request line and headers: far above
 * BG_HTTP_TARGET_MAX, so that our 414 answers long targets and its own HTML 414 and 431 come
 * only for requests several times larger. */
#define MHD_MEMORY_LIMIT ((size_t)64 * 1024)
#define INSTANCE_MAX 512 /* bytes of the path a problem's instance repeats */
#define RETRY_AFTER_S 1  /* what the 503 at the connection bound asks clients to wait */
#define DETAIL_MAX 1024
/* Only TLS 1.3: GnuTLS's defaults with every other version taken out. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3"
#define REALM "Bearer realm=\"bangerd\""
#define STREAM_LINGER_MS 5000 /* for a TLS client to hang up after its stream ended */

struct bg_http_server {
    struct MHD_Daemon *mhd;
    struct bg_http_config cfg;
    struct bg_conns *conns;
    struct bg_http_listener *listener;
    atomic_int in_flight; /* requests received and not yet completed */
    atomic_bool stopping; /* answer 503 to requests on kept-alive connections */
    pthread_mutex_t closers_lock;
    pthread_cond_t closers_done;
    unsigned closers; /* threads running close hooks, under closers_lock */
};

/* One bg_http_on_close hook. */
struct close_hook {
    void (*fn)(void *cls);
    void *cls;
};

/* The hooks of a closed connection, run on a thread of their own: libmicrohttpd may notify
 * the close on its internal thread, which a VM's removal must not hold up. */
struct closer {
    struct bg_http_server *srv;
    struct close_hook hooks[BG_HTTP_CLOSE_HOOKS_MAX];
    size_t n;
};

/* An upgrade handed to bg_http_reply_upgrade: runs once 101 is out, or is released unrun. */
enum { UPGRADE_PENDING, UPGRADE_RUNNING, UPGRADE_DONE };
struct bg_http_upgrade {
    atomic_int state;
    bg_http_upgrade_fn fn;
    void *cls;
    void (*free_cls)(void *cls);
    struct bg_http_server *srv;
};

struct intake;

/* Per-connection state (MHD's socket context): lives from accept to close, so it outlasts
 * both the request and any upgraded stream. */
struct bg_http_conn {
    struct bg_http_server *srv;      /* the server */
    struct bg_conns *conns;          /* the server's registry */
    struct bg_conn *slot;            /* its entry in it */
    struct intake *cur;              /* the request being parsed (unescape, streamed bodies) */
    struct bg_http_upgrade *upgrade; /* set by bg_http_reply_upgrade, NULL otherwise */
    struct close_hook hooks[BG_HTTP_CLOSE_HOOKS_MAX]; /* bg_http_on_close, in order */
    size_t n_hooks;
};

/* Per-request intake state, MHD's con_cls: made when the request line arrives. */
struct intake {
    const char *raw; /* the request target as received, in MHD's buffer */
    size_t raw_len;  /* strlen(raw) then: shorter than the target when it held a NUL byte */
    bool refused;    /* the target failed bg_http_check_target: refusal says why */
    struct bg_http_refusal refusal;
    bool nul_path;  /* "%00" in the path, left undecoded */
    bool nul_query; /* "%00" in a query key or value, left undecoded */
    bool started;   /* the first call of the request handler happened */
    const struct bg_route *route;
    const char *params[BG_ROUTE_PARAMS_MAX];
    char *scratch; /* path split into segments; params point here */
    char *body;
    size_t len;
    bool too_large;
    const struct bg_http_body_sink *sink; /* a streamed body's receiver (bg_http_body_stream) */
    void *sink_cls;
    bool sink_failed;                   /* its data() failed: the rest of the body is dropped */
    bool sink_ended;                    /* its end() ran */
    struct bg_http_principal principal; /* who asks, once authenticated */
};

/* The principal of every request on the unix socket: its owner. */
static const struct bg_http_principal owner = {.remote = false, .scopes = BG_SCOPE_ALL};

static size_t body_max(const struct bg_http_server *srv)
{
    return srv->cfg.body_max_bytes;
}

static struct bg_http_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

int bg_http_reply_response(struct bg_http_request *req, unsigned status, struct MHD_Response *resp)
{
    (void)MHD_add_response_header(resp, "Banger-Api-Version", "1");
    (void)MHD_add_response_header(resp, "Cache-Control", "no-store");
    int r = MHD_queue_response(req->conn, status, resp);
    MHD_destroy_response(resp);
    bg_log_debug("%s %s %u", req->method, req->path, status);
    return r;
}

/* A response over t's bytes; takes what t owns. */
static struct MHD_Response *response_take(struct bg_http_text *t)
{
    struct MHD_Response *resp;

    if (t->owned)
        resp = MHD_create_response_from_buffer_with_free_callback_cls(t->len, t->owned, free,
                                                                      t->owned);
    else
        resp = MHD_create_response_from_buffer(t->len, (void *)t->text, MHD_RESPMEM_PERSISTENT);
    t->owned = NULL;
    return resp;
}

/* Encode body (stolen) and queue it; a body that does not encode is answered with the fixed
 * 500 problem and logged, never with an abort. extra_name/extra_value: one more header. */
static int reply_json_typed(struct bg_http_request *req, unsigned status, json_t *body,
                            const char *type, const char *extra_name, const char *extra_value)
{
    struct bg_http_text t;

    bg_http_encode(body, req->path, &t);
    if (t.fallback) {
        bg_log_error("%s %s: the %u answer does not encode as JSON; answered 500 instead",
                     req->method, req->path, status);
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        type = "application/problem+json";
        extra_name = NULL;
    }
    struct MHD_Response *resp = response_take(&t);
    (void)MHD_add_response_header(resp, "Content-Type", type);
    if (extra_name)
        (void)MHD_add_response_header(resp, extra_name, extra_value);
    return bg_http_reply_response(req, status, resp);
}

int bg_http_reply_json(struct bg_http_request *req, unsigned status, json_t *body)
{
    return reply_json_typed(req, status, body, "application/json", NULL, NULL);
}

int bg_http_reply_json_located(struct bg_http_request *req, unsigned status, json_t *body,
                               const char *location)
{
    return reply_json_typed(req, status, body, "application/json", "Location", location);
}

int bg_http_reply_empty(struct bg_http_request *req, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return bg_http_reply_response(req, status, resp);
}

/* The problem object for req: its instance is the path, cut to INSTANCE_MAX bytes. */
static json_t *problem_new(struct bg_http_request *req, enum bg_problem p, const char *detail)
{
    char instance[INSTANCE_MAX];
    size_t n = bg_utf8_cut(req->path, strlen(req->path), sizeof(instance) - 1);

    memcpy(instance, req->path, n);
    instance[n] = '\0';
    return bg_problem_to_json(p, detail, instance);
}

/* Queue problem p with detail, extra members ext (stolen; may be NULL) and one more header
 * (may be NULL). */
static int reply_problem_detail(struct bg_http_request *req, enum bg_problem p, json_t *ext,
                                const char *extra_name, const char *extra_value, const char *detail)
{
    json_t *body = problem_new(req, p, detail);

    if (ext) {
        json_object_update(body, ext);
        json_decref(ext);
    }
    return reply_json_typed(req, (unsigned)bg_problem_status(p), body, "application/problem+json",
                            extra_name, extra_value);
}

BG_PRINTF(4, 0)
static int reply_problem_v(struct bg_http_request *req, enum bg_problem p, json_t *ext,
                           const char *fmt, va_list ap)
{
    char detail[DETAIL_MAX];

    (void)bg_utf8_vformat(detail, sizeof(detail), fmt, ap);
    return reply_problem_detail(req, p, ext, NULL, NULL, detail);
}

int bg_http_reply_problem(struct bg_http_request *req, enum bg_problem p, const char *field,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *ext = field && *field ? json_pack("{s:s}", "field", field) : NULL;
    int r = reply_problem_v(req, p, ext, fmt, ap);
    va_end(ap);
    return r;
}

int bg_http_reply_problem_ext(struct bg_http_request *req, enum bg_problem p, json_t *ext,
                              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = reply_problem_v(req, p, ext, fmt, ap);
    va_end(ap);
    return r;
}

int bg_http_reply_internal(struct bg_http_request *req, const struct bg_error *err)
{
    bg_log_error("%s %s: %s", req->method, req->path, err->msg);
    return bg_http_reply_problem(req, BG_PROBLEM_INTERNAL, NULL, "%s", err->msg);
}

int bg_http_body_object(struct bg_http_request *req, json_t **ret, int *ret_mhd)
{
    struct bg_field_error f;
    struct bg_error err;

    if (bg_json_parse_object(req->body ? req->body : "", req->body_len, ret, &f, &err) < 0) {
        *ret_mhd = bg_http_reply_problem(req, f.problem, f.field, "%s", err.msg);
        return -EINVAL;
    }
    return 0;
}

const char *bg_http_query(struct bg_http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool bg_http_client_gone(struct bg_http_request *req)
{
    return bg_http_connection_gone(req->conn);
}

bool bg_http_connection_gone(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd p = {.events = POLLRDHUP};

    if (!ci)
        return false;
    p.fd = ci->connect_fd;
    /* POLLRDHUP: the peer shut down its side; data it sent (a pipelined request) is not a
     * reason, and nothing is read */
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* ct's media type (parameters ignored) is type. */
static bool media_is(const char *ct, const char *type)
{
    size_t len = ct ? strcspn(ct, "; \t") : 0;

    return ct && len == strlen(type) && !strncasecmp(ct, type, len);
}

/* application/json, or application/merge-patch+json on PATCH; parameters ignored. */
static bool media_type_ok(const char *method, const char *ct)
{
    return media_is(ct, "application/json") ||
           (!strcmp(method, "PATCH") && media_is(ct, "application/merge-patch+json"));
}

static int reply_refusal(struct bg_http_request *req, const struct bg_http_refusal *ref)
{
    return reply_problem_detail(req, ref->problem, NULL, NULL, NULL, ref->msg);
}

/* The query parameters as MHD decoded them; more than BG_HTTP_QUERY_MAX are counted, not
 * kept. */
struct arg_list {
    struct bg_http_arg args[BG_HTTP_QUERY_MAX + 1];
    size_t n;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct arg_list *l = cls;
    (void)kind;
    if (l->n < BG_ARRAY_SIZE(l->args))
        l->args[l->n++] = (struct bg_http_arg){.key = key ? key : "", .value = value};
    return MHD_YES;
}

struct header_check {
    struct bg_http_refusal ref;
    bool bad;
};

static enum MHD_Result check_header_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    struct header_check *hc = cls;
    (void)kind;
    if (bg_http_check_header(key ? key : "", value, &hc->ref) < 0) {
        hc->bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

/* The request as text, before routing: its target, the NUL bytes the unescape callback left
 * encoded, the decoded path, the query and the headers. Returns a queued reply (>= 0), or -1
 * to go on. */
static int intake_text(struct bg_http_request *req, struct intake *in, const char *version,
                       struct arg_list *args)
{
    struct bg_http_refusal ref;
    struct header_check hc = {0};

    if (in->refused)
        return reply_refusal(req, &in->refusal);
    /* The target runs from the path to the space before the version, which MHD made a NUL;
     * a NUL byte inside the target made strlen stop earlier. */
    if (in->raw && (uintptr_t)version > (uintptr_t)in->raw &&
        (uintptr_t)version - 1 - (uintptr_t)in->raw != in->raw_len)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_PATH, NULL,
                                     "the request target holds a NUL byte");
    if (in->nul_path)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_PATH, NULL,
                                     "the path holds '%%00' (a NUL byte), which no name can hold");
    if (in->nul_query)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                     "the query holds '%%00' (a NUL byte), which no value can "
                                     "hold");
    if (bg_http_check_path(req->path, &ref) < 0)
        return reply_refusal(req, &ref);
    (void)MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_arg, args);
    if (bg_http_check_query_text(args->args, args->n, &ref) < 0)
        return reply_refusal(req, &ref);
    (void)MHD_get_connection_values(req->conn, MHD_HEADER_KIND, check_header_arg, &hc);
    if (hc.bad)
        return reply_refusal(req, &hc.ref);
    return -1;
}

/* The route, or the reply that there is none. Returns a queued reply (>= 0) or -1. */
static int intake_route(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in)
{
    struct bg_route_match m;

    in->scratch = bg_malloc(strlen(req->path) + 1);
    bg_router_match(srv->cfg.routes, srv->cfg.n_routes, req->method, req->path, in->scratch, &m);
    switch (m.result) {
    case BG_ROUTE_MATCHED:
        in->route = m.route;
        memcpy(in->params, m.params, sizeof(in->params));
        return -1;
    case BG_ROUTE_NO_PATH:
        return bg_http_reply_problem(req, BG_PROBLEM_NOT_FOUND, NULL,
                                     "no route %s %s; see GET /v1/system/version and "
                                     "openapi.yaml for the API",
                                     BG_QUOTE(req->method), BG_QUOTE(req->path));
    case BG_ROUTE_NO_METHOD: {
        char detail[DETAIL_MAX];
        (void)bg_utf8_format(detail, sizeof(detail), "%s is not allowed on %s; allowed: %s",
                             BG_QUOTE(req->method), BG_QUOTE(req->path), m.allow);
        return reply_problem_detail(req, BG_PROBLEM_METHOD_NOT_ALLOWED, NULL, "Allow", m.allow,
                                    detail);
    }
    case BG_ROUTE_BAD_PARAM:
        return reply_problem_detail(req, BG_PROBLEM_INVALID_PATH,
                                    json_pack("{s:s}", "parameter", m.param), NULL, NULL,
                                    m.why.msg);
    }
    return -1;
}

/* What the route says of a body: the media type and size of one it takes, or that it takes
 * none. Returns a queued reply (>= 0) or -1 to read the body. */
static int intake_body(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in)
{
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    const struct bg_route *route = in->route;
    uint64_t clen = 0;

    if (te && strcasecmp(te, "chunked"))
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_HEADER, NULL,
                                     "Transfer-Encoding '%s' is not supported; send the body "
                                     "with Content-Length or chunked",
                                     BG_QUOTE(te));
    if (route->flags & BG_ROUTE_STREAM) /* any length and type: its handler sees to it */
        return -1;
    if (cl && bg_parse_u64(cl, 0, body_max(srv), &clen, NULL) < 0)
        return bg_http_reply_problem(req, BG_PROBLEM_PAYLOAD_TOO_LARGE, NULL,
                                     "request bodies are limited to %zu bytes", body_max(srv));
    /* a route without a body still reads one, to refuse it unless it is empty or {} */
    if (!(route->flags & BG_ROUTE_BODY))
        return -1;
    const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
    if (!media_type_ok(req->method, ct))
        return bg_http_reply_problem(req, BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
                                     "send the body as JSON with 'Content-Type: "
                                     "application/json' (got '%s')",
                                     BG_QUOTE(ct ? ct : "none"));
    return -1;
}

/* A body sent to a route that takes none: only nothing, or an empty JSON object (which some
 * clients send with every POST), is let through. */
static bool body_is_nothing(const struct intake *in)
{
    json_t *j = NULL;

    if (in->len == 0)
        return true;
    bool empty =
        bg_json_parse_object(in->body, in->len, &j, NULL, NULL) == 0 && json_object_size(j) == 0;
    json_decref(j);
    return empty;
}

/* A refusal of the authentication hook: 401 with the challenge (RFC 6750: "invalid_token"
 * only when a token was sent), or 429 with Retry-After. */
static int reply_auth_refusal(struct bg_http_request *req, const struct bg_http_auth_result *res,
                              bool had_token)
{
    char retry[24];

    if (res->problem == BG_PROBLEM_TOO_MANY_AUTH_FAILURES) {
        snprintf(retry, sizeof(retry), "%u", res->retry_after_s ? res->retry_after_s : 1);
        return reply_problem_detail(req, res->problem, NULL, "Retry-After", retry, res->detail);
    }
    return reply_problem_detail(req, res->problem, NULL, "WWW-Authenticate",
                                had_token ? REALM ", error=\"invalid_token\"" : REALM, res->detail);
}

/* Who asks, on a TLS server, from the headers alone: its address, its bearer token and its
 * client certificate, judged by the hook. Returns a queued refusal (>= 0), or -1 with
 * in->principal set. */
static int intake_authenticate(struct bg_http_server *srv, struct bg_http_request *req,
                               struct intake *in)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const char *header = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    struct bg_http_credentials c = {0};
    struct bg_http_auth_result res = {0};
    char peer[BG_CONNS_PEER_MAX], token[BG_HTTP_BEARER_MAX + 1];
    struct bg_error why;
    const char *tok;
    size_t len;

    c.peer = ci ? bg_http_peer_key(ci->connect_fd, peer) : "unknown";
    if (bg_http_bearer_parse(header, &tok, &len, &why) == 0) {
        memcpy(token, tok, len);
        token[len] = '\0';
        c.token = token;
    } else {
        c.bearer_why = why.msg;
    }
    c.has_cert = bg_http_tls_peer_fingerprint(req->conn, c.cert_sha256);
    int r = srv->cfg.authenticate(srv->cfg.auth_cls, &c, &res);
    explicit_bzero(token, sizeof(token));
    if (r < 0)
        return reply_auth_refusal(req, &res, c.token != NULL);
    in->principal = res.principal;
    in->principal.remote = true;
    return -1;
}

/* Whether the route serves this principal: a remote one needs the route's scope. Returns a
 * queued refusal (>= 0) or -1. */
static int intake_scope(struct bg_http_request *req, const struct intake *in)
{
    enum bg_problem p;
    struct bg_error err;
    char www[128];

    if (!in->principal.remote || bg_http_scope_check(in->route->scope, in->principal.scopes,
                                                     req->method, req->path, &p, &err) == 0)
        return -1;
    if (p != BG_PROBLEM_INSUFFICIENT_SCOPE)
        return reply_problem_detail(req, p, NULL, NULL, NULL, err.msg);
    snprintf(www, sizeof(www), REALM ", error=\"insufficient_scope\", scope=\"%s\"",
             bg_scope_name(in->route->scope));
    return reply_problem_detail(req, p, NULL, "WWW-Authenticate", www, err.msg);
}

/* The first look at a request, once its headers are in: decide now whether it is refused
 * before its body arrives. On a TLS server nothing of the request but its headers is looked
 * at before it is authenticated. Returns a queued reply (>= 0), or -1 to go on. */
static int intake_first(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in,
                        const char *version)
{
    struct arg_list args = {0};
    struct bg_http_refusal ref;
    int r;

    if (srv->stopping)
        return bg_http_reply_problem(req, BG_PROBLEM_SHUTTING_DOWN, NULL,
                                     "bangerd is shutting down; retry once it is back");
    if (srv->cfg.tls && (r = intake_authenticate(srv, req, in)) >= 0)
        return r;
    if ((r = intake_text(req, in, version, &args)) >= 0 || (r = intake_route(srv, req, in)) >= 0 ||
        (r = intake_scope(req, in)) >= 0)
        return r;
    if (bg_http_check_query_keys(args.args, args.n, in->route->query, &ref) < 0)
        return reply_refusal(req, &ref);
    return intake_body(srv, req, in);
}

static void intake_append(struct bg_http_server *srv, struct intake *in, const char *data,
                          size_t len)
{
    if (in->too_large || in->len + len > body_max(srv)) {
        in->too_large = true;
        return;
    }
    in->body = bg_realloc(in->body, in->len + len + 1);
    memcpy(in->body + in->len, data, len);
    in->len += len;
    in->body[in->len] = '\0';
}

bool bg_http_content_type_is(struct bg_http_request *req, const char *type)
{
    return media_is(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type"), type);
}

int bg_http_body_stream(struct bg_http_request *req, const struct bg_http_body_sink *sink,
                        void *cls)
{
    struct intake *in = req->http_conn ? req->http_conn->cur : NULL;

    if (!in || in->sink || !in->route || !(in->route->flags & BG_ROUTE_STREAM)) {
        sink->free(cls);
        struct bg_error err = {.code = -EINVAL};
        snprintf(err.msg, sizeof(err.msg), "a streamed body outside its route's first call");
        return bg_http_reply_internal(req, &err);
    }
    in->sink = sink;
    in->sink_cls = cls;
    return MHD_YES;
}

/* A BG_ROUTE_STREAM request's headers are in: its handler replies or takes the body. */
static int stream_begin(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in)
{
    memcpy(req->params, in->params, sizeof(req->params));
    if (req->http_conn)
        bg_conns_event(srv->conns, req->http_conn->slot, BG_CONN_EV_HANDLER, bg_now_ms());
    int r = in->route->handler(req);
    if (!in->sink) {
        in->route = NULL; /* replied: ignore the body */
        return r;
    }
    if (req->http_conn)
        bg_conns_event(srv->conns, req->http_conn->slot, BG_CONN_EV_STREAM, bg_now_ms());
    return r;
}

/* One piece of a streamed body to its sink; after a failure, dropped. */
static void stream_data(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in,
                        const char *data, size_t len)
{
    if (in->sink_failed)
        return;
    if (req->http_conn)
        bg_conns_event(srv->conns, req->http_conn->slot, BG_CONN_EV_HANDLER, bg_now_ms());
    if (in->sink->data(in->sink_cls, data, len) < 0)
        in->sink_failed = true;
    if (req->http_conn)
        bg_conns_event(srv->conns, req->http_conn->slot, BG_CONN_EV_STREAM, bg_now_ms());
}

static int stream_end(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in)
{
    in->sink_ended = true;
    memcpy(req->params, in->params, sizeof(req->params));
    if (req->http_conn)
        bg_conns_event(srv->conns, req->http_conn->slot, BG_CONN_EV_HANDLER, bg_now_ms());
    return in->sink->end(in->sink_cls, req);
}

int bg_http_on_close(struct bg_http_request *req, void (*fn)(void *cls), void *cls)
{
    struct bg_http_conn *hc = req->http_conn;

    if (!hc || hc->n_hooks == BG_HTTP_CLOSE_HOOKS_MAX)
        return -ENOSPC;
    hc->hooks[hc->n_hooks++] = (struct close_hook){.fn = fn, .cls = cls};
    bg_conns_hold(hc->conns, hc->slot);
    return 0;
}

static void *closer_main(void *arg)
{
    struct closer *c = arg;
    struct bg_http_server *srv = c->srv;

    for (size_t i = 0; i < c->n; i++)
        c->hooks[i].fn(c->hooks[i].cls);
    free(c);
    pthread_mutex_lock(&srv->closers_lock);
    if (--srv->closers == 0)
        pthread_cond_broadcast(&srv->closers_done);
    pthread_mutex_unlock(&srv->closers_lock);
    return NULL;
}

/* Run hc's close hooks on a detached thread that bg_http_server_stop waits for; where no
 * thread can start, right here. */
static void run_close_hooks(struct bg_http_server *srv, struct bg_http_conn *hc)
{
    struct closer *c = bg_calloc(1, sizeof(*c));
    pthread_attr_t attr;
    pthread_t t;

    c->srv = srv;
    c->n = hc->n_hooks;
    memcpy(c->hooks, hc->hooks, sizeof(c->hooks));
    pthread_mutex_lock(&srv->closers_lock);
    srv->closers++;
    pthread_mutex_unlock(&srv->closers_lock);
    (void)pthread_attr_init(&attr);
    (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, closer_main, c) != 0)
        closer_main(c);
    (void)pthread_attr_destroy(&attr);
}

bool bg_http_wants_upgrade(struct bg_http_request *req, const char *protocol)
{
    const char *up = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
    const char *co = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Connection");

    return up && co && !strcasecmp(up, protocol) && strcasestr(co, "upgrade");
}

/* Run the stream of u on sock, then let MHD close the connection. After the close u may be
 * freed (by the connection's end), so nothing touches it afterwards. */
static void upgrade_run(struct bg_http_upgrade *u, MHD_socket sock, const char *extra,
                        size_t extra_len)
{
    int expected = UPGRADE_PENDING;

    if (atomic_compare_exchange_strong(&u->state, &expected, UPGRADE_RUNNING)) {
        u->fn(u->cls, sock, extra, extra_len);
        atomic_store(&u->state, UPGRADE_DONE);
    }
}

/* The stream of an upgrade over TLS, on the bridge's thread. */
struct tls_stream {
    struct bg_http_upgrade *u;
    const char *extra; /* in MHD's read buffer, untouched while the handler runs */
    size_t extra_len;
};

static void tls_stream_run(void *cls, int fd)
{
    struct tls_stream *t = cls;

    upgrade_run(t->u, fd, t->extra, t->extra_len);
}

/* An upgrade over TLS: the stream goes through bangerd's own bridge (tlsbridge.h), on this,
 * the connection's thread; MHD's own forwarding then finds the upgrade closed and ends. */
static void tls_upgrade(struct bg_http_upgrade *u, struct MHD_Connection *conn, const char *extra,
                        size_t extra_len)
{
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *tls =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    struct tls_stream t = {.u = u, .extra = extra, .extra_len = extra_len};
    int expected = UPGRADE_PENDING, one = 1;
    struct bg_error err = {.code = -EIO, .msg = "the connection has no TLS session"};

    /* MHD turns Nagle back on for upgrades: small frames (credits, a keystroke) would wait for
     * the peer's delayed ACK at every turn of the flow control */
    if (fd)
        (void)setsockopt(fd->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fd && tls &&
        bg_tls_bridge_run(tls->tls_session, fd->connect_fd, tls_stream_run, &t, STREAM_LINGER_MS,
                          &err) == 0)
        return;
    bg_log_error("run a stream over TLS: %s; closing it", err.msg);
    if (atomic_compare_exchange_strong(&u->state, &expected, UPGRADE_DONE))
        u->free_cls(u->cls);
}

/* MHD's upgrade handler, on the connection's own thread (thread-per-connection mode allows
 * blocking): run the stream, then let MHD close the connection. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct bg_http_upgrade *u = cls;
    (void)con_cls;

    if (u->srv->cfg.tls)
        tls_upgrade(u, conn, extra, extra_len);
    else
        upgrade_run(u, sock, extra, extra_len);
    (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

int bg_http_reply_upgrade(struct bg_http_request *req, const char *protocol, bg_http_upgrade_fn fn,
                          void *cls, void (*free_cls)(void *cls))
{
    return bg_http_reply_upgrade_headers(req, protocol, NULL, fn, cls, free_cls);
}

int bg_http_reply_upgrade_headers(struct bg_http_request *req, const char *protocol,
                                  const char *const *headers, bg_http_upgrade_fn fn, void *cls,
                                  void (*free_cls)(void *cls))
{
    struct bg_http_upgrade *u = bg_calloc(1, sizeof(*u));
    struct MHD_Response *resp;

    u->fn = fn;
    u->cls = cls;
    u->free_cls = free_cls;
    u->srv = req->http_conn ? req->http_conn->srv : NULL;
    atomic_init(&u->state, UPGRADE_PENDING);
    if (!req->http_conn || req->http_conn->upgrade ||
        !(resp = MHD_create_response_for_upgrade(on_upgrade, u))) {
        free_cls(cls);
        free(u);
        struct bg_error err = {.code = -EIO};
        snprintf(err.msg, sizeof(err.msg), "cannot switch protocols to %s", protocol);
        return bg_http_reply_internal(req, &err);
    }
    req->http_conn->upgrade = u; /* released when the connection closes */
    /* the stream may be quiet for as long as it likes: no deadline from here on */
    bg_conns_event(req->http_conn->conns, req->http_conn->slot, BG_CONN_EV_UPGRADE, bg_now_ms());
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, protocol);
    for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
        (void)MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return bg_http_reply_response(req, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

/* Connection start and end. The start links MHD's connection to the registry entry the
 * listener made; the end (MHD calls it before it closes the socket) removes that entry under
 * the registry's lock, so the listener never shuts down a socket number already reused, and
 * releases an upgrade that never ran. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct bg_http_server *srv = cls;
    struct bg_http_conn *hc = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        hc = bg_calloc(1, sizeof(*hc));
        hc->srv = srv;
        hc->conns = srv->conns;
        hc->slot = bg_conns_started(srv->conns, ci ? ci->connect_fd : -1, bg_now_ms());
        *socket_context = hc;
        return;
    }
    if (!hc)
        return;
    bg_conns_closed(srv->conns, hc->slot);
    if (hc->upgrade) {
        int expected = UPGRADE_PENDING;
        if (atomic_compare_exchange_strong(&hc->upgrade->state, &expected, UPGRADE_DONE))
            hc->upgrade->free_cls(hc->upgrade->cls);
        /* A stream still running here would be a bug in MHD's ordering; leak it rather
         * than free what its thread uses. */
        if (expected != UPGRADE_RUNNING)
            free(hc->upgrade);
    }
    if (hc->n_hooks)
        run_close_hooks(srv, hc);
    free(hc);
    *socket_context = NULL;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request line is in and the target not yet decoded. What
 * this returns is the request's con_cls. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct bg_http_server *srv = cls;
    struct bg_http_conn *hc = conn_of(conn);
    struct intake *in = bg_calloc(1, sizeof(*in));

    in->raw = uri;
    in->raw_len = uri ? strlen(uri) : 0;
    in->refused = uri && bg_http_check_target(uri, in->raw_len, &in->refusal) < 0;
    if (hc) {
        hc->cur = in;
        bg_conns_event(srv->conns, hc->slot, BG_CONN_EV_REQUEST_LINE, bg_now_ms());
    }
    return in;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: decodes each query key and value, then the path, in place.
 * "%00" stays encoded and marks the request, which intake then refuses: a decoded NUL would
 * silently cut a name ("a%00b" acting on "a"). */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    struct bg_http_conn *hc = conn_of(conn);
    bool nul = false;
    size_t n = bg_http_unescape(s, &nul);
    (void)cls;

    if (nul && hc && hc->cur) {
        if (s == hc->cur->raw)
            hc->cur->nul_path = true;
        else
            hc->cur->nul_query = true;
    }
    return n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct bg_http_server *srv = cls;
    struct intake *in = *con_cls;
    struct bg_http_request req = {.conn = conn, .app = srv->cfg.app, .method = method, .path = url};

    req.http_conn = conn_of(conn);
    if (!in)
        *con_cls = in = bg_calloc(1, sizeof(*in));
    if (req.http_conn && !req.http_conn->cur)
        req.http_conn->cur = in;
    req.principal = srv->cfg.tls ? &in->principal : &owner;
    if (!in->started) {
        in->started = true;
        srv->in_flight++;
        if (req.http_conn)
            bg_conns_event(srv->conns, req.http_conn->slot, BG_CONN_EV_HEADERS, bg_now_ms());
        int r = intake_first(srv, &req, in, version);
        if (r >= 0) {
            in->route = NULL; /* replied: ignore any body that follows */
            if (req.http_conn)
                bg_conns_event(srv->conns, req.http_conn->slot, BG_CONN_EV_HANDLER, bg_now_ms());
            return (enum MHD_Result)r;
        }
        if (in->route->flags & BG_ROUTE_STREAM)
            return (enum MHD_Result)stream_begin(srv, &req, in);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (in->sink)
            stream_data(srv, &req, in, upload_data, *upload_data_size);
        else if (in->route)
            intake_append(srv, in, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (in->sink && !in->sink_ended)
        return (enum MHD_Result)stream_end(srv, &req, in);
    if (!in->route || in->sink)
        return MHD_YES; /* already answered */
    /* the request is all in: from here it may take as long as its handler needs */
    if (req.http_conn)
        bg_conns_event(srv->conns, req.http_conn->slot, BG_CONN_EV_HANDLER, bg_now_ms());
    if (in->too_large)
        return (enum MHD_Result)bg_http_reply_problem(&req, BG_PROBLEM_PAYLOAD_TOO_LARGE, NULL,
                                                      "request bodies are limited to %zu bytes",
                                                      body_max(srv));
    if (!(in->route->flags & BG_ROUTE_BODY) && !body_is_nothing(in))
        return (enum MHD_Result)bg_http_reply_problem(
            &req, BG_PROBLEM_UNEXPECTED_BODY, NULL,
            "%s %s takes no request body; send none (or an empty object, {})", method,
            BG_QUOTE(url));
    memcpy(req.params, in->params, sizeof(req.params));
    req.body = in->body;
    req.body_len = in->len;
    return (enum MHD_Result)in->route->handler(&req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bg_http_server *srv = cls;
    struct intake *in = *con_cls;
    struct bg_http_conn *hc = conn_of(conn);
    (void)toe;

    if (hc) {
        hc->cur = NULL;
        bg_conns_event(srv->conns, hc->slot, BG_CONN_EV_DONE, bg_now_ms());
    }
    if (!in)
        return;
    if (in->sink)
        in->sink->free(in->sink_cls);
    if (in->started)
        srv->in_flight--;
    free(in->scratch);
    free(in->body);
    free(in);
    *con_cls = NULL;
}

static void kill_socket(int fd)
{
    (void)shutdown(fd, SHUT_RDWR);
}

/* The whole HTTP response the listener sends a connection it cannot admit. */
static char *busy_response(const struct bg_http_config *cfg, size_t *ret_len)
{
    char detail[256];
    struct bg_http_text t;

    snprintf(detail, sizeof(detail),
             "bangerd has %zu connections open and none can make room for this one: every one "
             "is inside a request; retry in %d s",
             cfg->connections_max, RETRY_AFTER_S);
    bg_http_encode(bg_problem_to_json(BG_PROBLEM_TOO_MANY_CONNECTIONS, detail, "/"), "/", &t);
    char *resp = bg_asprintf("HTTP/1.1 503 Service Unavailable\r\n"
                             "Content-Type: application/problem+json\r\n"
                             "Content-Length: %zu\r\n"
                             "Banger-Api-Version: 1\r\n"
                             "Cache-Control: no-store\r\n"
                             "Retry-After: %d\r\n"
                             "Connection: close\r\n"
                             "\r\n"
                             "%s",
                             t.len, RETRY_AFTER_S, t.text);
    bg_http_text_done(&t);
    *ret_len = strlen(resp);
    return resp;
}

static void config_defaults(struct bg_http_config *cfg)
{
    if (!cfg->connections_max)
        cfg->connections_max = DEFAULT_CONNECTIONS_MAX;
    if (!cfg->client_connections_max)
        cfg->client_connections_max = DEFAULT_CLIENT_CONNECTIONS_MAX;
    if (!cfg->header_timeout_s)
        cfg->header_timeout_s = DEFAULT_HEADER_TIMEOUT_S;
    if (!cfg->idle_timeout_s)
        cfg->idle_timeout_s = DEFAULT_IDLE_TIMEOUT_S;
}

/* Registry entries at once, the evicted and not yet closed included. */
static size_t hard_max(const struct bg_http_config *cfg)
{
    return cfg->connections_max * 2;
}

static struct MHD_Daemon *mhd_start(struct bg_http_server *srv)
{
    /* MHD's own limit must never be reached: 0.9.75 returns from new_connection_process_ at
     * its limit with cleanup_connection_mutex still held, and every thread then deadlocks.
     * The registry admits at most hard_max connections, counting each from before
     * MHD_add_connection until MHD's close notification; MHD counts one more at most (the
     * one it has notified and not yet subtracted). */
    unsigned mhd_limit = (unsigned)(hard_max(&srv->cfg) + 64);
    const struct bg_http_tls *tls = srv->cfg.tls;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                     MHD_USE_POLL | MHD_ALLOW_UPGRADE | MHD_USE_NO_LISTEN_SOCKET;
    static const char priorities[] = TLS_PRIORITIES;
    struct MHD_OptionItem opts[8];
    size_t n = 0;

    /* TLS 1.3 only; the handshake runs on the connection's thread, inside the registry's
     * header deadline. A trust list only makes GnuTLS ask for a client certificate: a client
     * without one still completes the handshake, and the authentication hook decides. */
    if (tls) {
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)tls->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)tls->key_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)priorities};
        if (tls->trust_pem)
            opts[n++] =
                (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)tls->trust_pem};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    /* Thread per connection: event streams and ?wait= block their own thread only. No
     * listening socket: the listener accepts and hands each connection over. No MHD timeout:
     * the registry enforces the header and idle deadlines, and nothing else may end a long
     * request (an event stream, a 2-minute VM start under TCG). */
    return MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_URI_LOG_CALLBACK,
        on_request_line, srv, MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, srv,
        MHD_OPTION_CONNECTION_TIMEOUT, 0U, MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, MHD_MEMORY_LIMIT, MHD_OPTION_THREAD_STACK_SIZE,
        (size_t)256 * 1024, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
}

static void server_free(struct bg_http_server *srv)
{
    bg_conns_free(srv->conns);
    pthread_cond_destroy(&srv->closers_done);
    pthread_mutex_destroy(&srv->closers_lock);
    free(srv);
}

int bg_http_server_start(const struct bg_http_config *cfg, int listen_fd,
                         struct bg_http_server **ret, struct bg_error *err)
{
    struct bg_http_server *srv;
    int r;

    if ((r = bg_router_check(cfg->routes, cfg->n_routes, err)) < 0) {
        (void)close(listen_fd);
        return r;
    }
    if (cfg->tls && !cfg->authenticate) {
        (void)close(listen_fd);
        return bg_error_set(err, -EINVAL, "a TLS server needs an authentication hook");
    }
    srv = bg_calloc(1, sizeof(*srv));
    pthread_mutex_init(&srv->closers_lock, NULL);
    pthread_cond_init(&srv->closers_done, NULL);
    srv->cfg = *cfg;
    config_defaults(&srv->cfg);
    struct bg_conns_limits lim = {
        .max = srv->cfg.connections_max,
        .hard_max = hard_max(&srv->cfg),
        .per_client_max = srv->cfg.client_connections_max,
        .header_ms = (int64_t)srv->cfg.header_timeout_s * 1000,
        .idle_ms = (int64_t)srv->cfg.idle_timeout_s * 1000,
        .kill = kill_socket,
    };
    srv->conns = bg_conns_new(&lim);
    if (!(srv->mhd = mhd_start(srv))) {
        server_free(srv);
        (void)close(listen_fd);
        return bg_error_set(err, -EIO, "cannot start the HTTP server%s",
                            cfg->tls ? " (its TLS certificate or key was refused)" : "");
    }
    /* a TLS client cannot read a plain answer: one that cannot be admitted is just closed */
    size_t busy_len = 0;
    bg_autofree char *busy = srv->cfg.tls ? NULL : busy_response(&srv->cfg, &busy_len);
    if ((r = bg_http_listener_start(listen_fd, srv->conns, srv->mhd, busy, busy_len, &srv->listener,
                                    err)) < 0) {
        MHD_stop_daemon(srv->mhd);
        server_free(srv);
        return r;
    }
    *ret = srv;
    return 0;
}

void bg_http_server_quiesce(struct bg_http_server *srv)
{
    if (!srv || srv->stopping)
        return;
    srv->stopping = true;
    bg_http_listener_pause(srv->listener);
}

void bg_http_server_stop(struct bg_http_server *srv, int timeout_ms)
{
    if (!srv)
        return;
    bg_http_server_quiesce(srv);
    int64_t deadline = bg_now_ms() + timeout_ms;
    while (srv->in_flight > 0 && bg_now_ms() < deadline) {
        struct timespec ts = {.tv_nsec = 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (srv->in_flight > 0)
        bg_log_warn("stop http: %d requests still in flight after %d ms; closing them",
                    (int)srv->in_flight, timeout_ms);
    bg_http_listener_stop(srv->listener);
    MHD_stop_daemon(srv->mhd);
    /* the close hooks of the connections just closed (an auto-remove VM's removal) finish
     * while the daemon they use is still whole */
    pthread_mutex_lock(&srv->closers_lock);
    while (srv->closers > 0)
        pthread_cond_wait(&srv->closers_done, &srv->closers_lock);
    pthread_mutex_unlock(&srv->closers_lock);
    server_free(srv);
}
