/* SPDX-License-Identifier: MIT */
/* libmicrohttpd glue: request intake (routing, media type, body cap), replies, shutdown. */
#include "http/http.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"

#define ALLOW_MAX 64
#define IDLE_TIMEOUT_S 120
#define CONNECTIONS_MAX 256

struct bg_http_server {
    struct MHD_Daemon *mhd;
    struct bg_http_config cfg;
    atomic_int in_flight; /* requests received and not yet completed */
    atomic_bool stopping; /* answer 503 to requests on kept-alive connections */
    int quiesced_fd;      /* the listening socket MHD gave back when quiesced, or -1 */
};

/* An upgrade handed to bg_http_reply_upgrade: runs once 101 is out, or is released unrun. */
enum { UPGRADE_PENDING, UPGRADE_RUNNING, UPGRADE_DONE };
struct bg_http_upgrade {
    atomic_int state;
    bg_http_upgrade_fn fn;
    void *cls;
    void (*free_cls)(void *cls);
};

/* Per-connection state (MHD's socket context): lives from accept to close, so it outlasts
 * both the request and any upgraded stream. */
struct bg_http_conn {
    struct bg_http_upgrade *upgrade; /* set by bg_http_reply_upgrade, NULL otherwise */
};

/* Per-request intake state, MHD's con_cls. */
struct intake {
    const struct bg_route *route;
    const char *params[BG_ROUTE_PARAMS_MAX];
    char *scratch; /* path split into segments; params point here */
    char *body;
    size_t len;
    bool too_large;
};

static size_t body_max(const struct bg_http_server *srv)
{
    return srv->cfg.body_max_bytes;
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

static int reply_json_typed(struct bg_http_request *req, unsigned status, json_t *body,
                            const char *type, const char *location)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        abort();
    size_t len = strlen(text);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(len, text, free, text);
    (void)MHD_add_response_header(resp, "Content-Type", type);
    if (location)
        (void)MHD_add_response_header(resp, "Location", location);
    return bg_http_reply_response(req, status, resp);
}

int bg_http_reply_json(struct bg_http_request *req, unsigned status, json_t *body)
{
    return reply_json_typed(req, status, body, "application/json", NULL);
}

int bg_http_reply_json_located(struct bg_http_request *req, unsigned status, json_t *body,
                               const char *location)
{
    return reply_json_typed(req, status, body, "application/json", location);
}

int bg_http_reply_empty(struct bg_http_request *req, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return bg_http_reply_response(req, status, resp);
}

static json_t *problem_new(struct bg_http_request *req, enum bg_problem p, const char *detail)
{
    return bg_problem_to_json(p, detail, req->path);
}

BG_PRINTF(4, 0)
static int reply_problem_v(struct bg_http_request *req, enum bg_problem p, json_t *ext,
                           const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    json_t *body = problem_new(req, p, detail);
    if (ext) {
        json_object_update(body, ext);
        json_decref(ext);
    }
    return reply_json_typed(req, (unsigned)bg_problem_status(p), body, "application/problem+json",
                            NULL);
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
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct pollfd p = {.events = POLLRDHUP};

    if (!ci)
        return false;
    p.fd = ci->connect_fd;
    /* POLLRDHUP: the peer shut down its side; data it sent (a pipelined request) is not a
     * reason, and nothing is read */
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* application/json, or application/merge-patch+json on PATCH; parameters ignored. */
static bool media_type_ok(const char *method, const char *ct)
{
    if (!ct)
        return false;
    size_t len = strcspn(ct, "; \t");
    if (len == 16 && !strncasecmp(ct, "application/json", 16))
        return true;
    return !strcmp(method, "PATCH") && len == 28 &&
           !strncasecmp(ct, "application/merge-patch+json", 28);
}

struct query_check {
    const char *const *allowed;
    const char *bad; /* first unknown key */
};

static enum MHD_Result check_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    struct query_check *qc = cls;
    (void)kind;
    (void)value;
    for (size_t i = 0; qc->allowed && qc->allowed[i]; i++)
        if (!strcmp(key, qc->allowed[i]))
            return MHD_YES;
    qc->bad = key;
    return MHD_NO;
}

/* The first look at a request: decide now whether it is refused before its body arrives. */
static int intake_first(struct bg_http_server *srv, struct bg_http_request *req, struct intake *in)
{
    char allow[ALLOW_MAX];
    const struct bg_route *table;
    size_t n;

    if (srv->stopping)
        return bg_http_reply_problem(req, BG_PROBLEM_SHUTTING_DOWN, NULL,
                                     "bangerd is shutting down; retry once it is back");
    table = srv->cfg.routes;
    n = srv->cfg.n_routes;
    in->scratch = bg_malloc(strlen(req->path) + 1);
    in->route = bg_router_match(table, n, req->method, req->path, in->scratch, in->params, allow,
                                sizeof(allow));
    if (!in->route && !allow[0])
        return bg_http_reply_problem(req, BG_PROBLEM_NOT_FOUND, NULL,
                                     "no route %s %s; see GET /v1/system/version and "
                                     "openapi.yaml for the API",
                                     req->method, req->path);
    if (!in->route) {
        struct MHD_Response *resp;
        char detail[160];
        snprintf(detail, sizeof(detail), "%s is not allowed on %s; allowed: %s", req->method,
                 req->path, allow);
        json_t *body = problem_new(req, BG_PROBLEM_METHOD_NOT_ALLOWED, detail);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        resp =
            MHD_create_response_from_buffer_with_free_callback_cls(strlen(text), text, free, text);
        (void)MHD_add_response_header(resp, "Content-Type", "application/problem+json");
        (void)MHD_add_response_header(resp, "Allow", allow);
        return bg_http_reply_response(req, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    }

    struct query_check qc = {.allowed = in->route->query};
    (void)MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, check_query_arg, &qc);
    if (qc.bad)
        return bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                     "unknown query parameter '%s'", BG_QUOTE(qc.bad));
    if (!(in->route->flags & BG_ROUTE_BODY))
        return -1;

    const char *ct = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Type");
    if (!media_type_ok(req->method, ct))
        return bg_http_reply_problem(req, BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
                                     "send the body as JSON with 'Content-Type: "
                                     "application/json' (got '%s')",
                                     BG_QUOTE(ct ? ct : "none"));
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Content-Length");
    uint64_t clen = 0;
    if (cl && bg_parse_u64(cl, 0, body_max(srv), &clen, NULL) < 0)
        return bg_http_reply_problem(req, BG_PROBLEM_PAYLOAD_TOO_LARGE, NULL,
                                     "request bodies are limited to %zu bytes", body_max(srv));
    return -1; /* go on: read the body */
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

bool bg_http_wants_upgrade(struct bg_http_request *req, const char *protocol)
{
    const char *up = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Upgrade");
    const char *co = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Connection");

    return up && co && !strcasecmp(up, protocol) && strcasestr(co, "upgrade");
}

/* MHD's upgrade handler: the connection thread runs the stream here (thread-per-connection
 * mode allows blocking), then lets MHD close the socket. */
static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra,
                       size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    struct bg_http_upgrade *u = cls;
    int expected = UPGRADE_PENDING;
    (void)conn;
    (void)con_cls;

    if (atomic_compare_exchange_strong(&u->state, &expected, UPGRADE_RUNNING)) {
        u->fn(u->cls, sock, extra, extra_len);
        atomic_store(&u->state, UPGRADE_DONE);
    }
    (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

int bg_http_reply_upgrade(struct bg_http_request *req, const char *protocol, bg_http_upgrade_fn fn,
                          void *cls, void (*free_cls)(void *cls))
{
    struct bg_http_upgrade *u = bg_calloc(1, sizeof(*u));
    struct MHD_Response *resp;

    u->fn = fn;
    u->cls = cls;
    u->free_cls = free_cls;
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
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, protocol);
    return bg_http_reply_response(req, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

/* Connection start and end: the end releases an upgrade that never ran. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct bg_http_conn *hc = *socket_context;
    (void)cls;
    (void)conn;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = bg_calloc(1, sizeof(struct bg_http_conn));
        return;
    }
    if (!hc)
        return;
    if (hc->upgrade) {
        int expected = UPGRADE_PENDING;
        if (atomic_compare_exchange_strong(&hc->upgrade->state, &expected, UPGRADE_DONE))
            hc->upgrade->free_cls(hc->upgrade->cls);
        /* A stream still running here would be a bug in MHD's ordering; leak it rather
         * than free what its thread uses. */
        if (expected != UPGRADE_RUNNING)
            free(hc->upgrade);
    }
    free(hc);
    *socket_context = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct bg_http_server *srv = cls;
    struct intake *in = *con_cls;
    struct bg_http_request req = {.conn = conn, .app = srv->cfg.app, .method = method, .path = url};
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    (void)version;

    req.http_conn = ci ? ci->socket_context : NULL;
    if (!in) {
        in = bg_calloc(1, sizeof(*in));
        *con_cls = in;
        srv->in_flight++;
        int r = intake_first(srv, &req, in);
        if (r >= 0) {
            in->route = NULL; /* replied: ignore any body that follows */
            return (enum MHD_Result)r;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (in->route)
            intake_append(srv, in, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!in->route)
        return MHD_YES; /* already answered */
    if (in->too_large)
        return (enum MHD_Result)bg_http_reply_problem(&req, BG_PROBLEM_PAYLOAD_TOO_LARGE, NULL,
                                                      "request bodies are limited to %zu bytes",
                                                      body_max(srv));
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
    (void)conn;
    (void)toe;

    if (!in)
        return;
    free(in->scratch);
    free(in->body);
    free(in);
    *con_cls = NULL;
    srv->in_flight--;
}

int bg_http_server_start(const struct bg_http_config *cfg, int listen_fd,
                         struct bg_http_server **ret, struct bg_error *err)
{
    struct bg_http_server *srv = bg_calloc(1, sizeof(*srv));

    srv->cfg = *cfg;
    srv->quiesced_fd = -1;
    /* Thread per connection: event streams and ?wait= block their own thread only. */
    srv->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                    MHD_USE_ITC | MHD_USE_POLL | MHD_ALLOW_UPGRADE,
                                0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, listen_fd,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
                                MHD_OPTION_THREAD_STACK_SIZE, (size_t)256 * 1024, MHD_OPTION_END);
    if (!srv->mhd) {
        free(srv);
        (void)close(listen_fd);
        return bg_error_set(err, -EIO, "cannot start the HTTP server");
    }
    *ret = srv;
    return 0;
}

void bg_http_server_quiesce(struct bg_http_server *srv)
{
    if (!srv || srv->stopping)
        return;
    srv->stopping = true;
    srv->quiesced_fd = MHD_quiesce_daemon(srv->mhd);
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
    MHD_stop_daemon(srv->mhd);
    if (srv->quiesced_fd >= 0)
        (void)close(srv->quiesced_fd);
    free(srv);
}
