/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/server.c through a real socket: raw requests to a small route
 * table, checking what intake refuses before any handler runs (%00, a NUL byte, a long target,
 * bad parameters, stray bodies), HEAD, the 405, a body that does not encode, the header
 * deadline, streamed bodies (order, flow control, refusals, failures, a client that leaves or
 * stalls) and close hooks. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/macro.h"
#include "banger/timefmt.h"
#include "host/listen.h"
#include "host/unixsock.h"
#include "http/http.h"
#include "http/intake.h"
#include "testutil.h"

static atomic_int handled; /* handler calls */
static char last_param[128];

static int h_list(struct bg_http_request *req)
{
    handled++;
    return bg_http_reply_json(req, 200, json_pack("{s:[]}", "vms"));
}

static int h_vm(struct bg_http_request *req)
{
    handled++;
    snprintf(last_param, sizeof(last_param), "%s", req->params[0]);
    return bg_http_reply_empty(req, 204);
}

/* A handler that builds a body json_dumps refuses, as one echoing guest bytes might. */
static int h_bad_body(struct bg_http_request *req)
{
    json_t *j = json_object();
    handled++;
    json_object_set_new_nocheck(j, "out", json_stringn_nocheck("\xff", 1));
    return bg_http_reply_json(req, 200, j);
}

/* The streamed body route: counts and checksums what arrives; ?fail=N fails the piece that
 * reaches N bytes; ?block=1 makes the first piece wait until the test opens the gate. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool gate_open;
    bool blocked; /* a piece waits at the gate */
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, true, false};
static atomic_int sinks_freed, sinks_ended;

struct blob {
    uint64_t bytes, sum, fail_at;
    bool block;
};

static int blob_data(void *cls, const char *buf, size_t len)
{
    struct blob *b = cls;

    if (b->block) {
        pthread_mutex_lock(&gate.lock);
        gate.blocked = true;
        while (!gate.gate_open)
            pthread_cond_wait(&gate.cond, &gate.lock);
        gate.blocked = false;
        pthread_mutex_unlock(&gate.lock);
        b->block = false;
    }
    for (size_t i = 0; i < len; i++)
        b->sum = b->sum * 31 + (unsigned char)buf[i];
    b->bytes += len;
    return b->fail_at && b->bytes >= b->fail_at ? -1 : 0;
}

static int blob_end(void *cls, struct bg_http_request *req)
{
    struct blob *b = cls;

    sinks_ended++;
    if (b->fail_at && b->bytes >= b->fail_at)
        return bg_http_reply_problem(req, BG_PROBLEM_INTERNAL, NULL, "stopped at %llu",
                                     (unsigned long long)b->bytes);
    return bg_http_reply_json(req, 200,
                              json_pack("{s:I, s:I}", "bytes", (json_int_t)b->bytes, "sum",
                                        (json_int_t)(b->sum & 0xffffffffffff)));
}

static void blob_free(void *cls)
{
    free(cls);
    sinks_freed++;
}

static const struct bg_http_body_sink blob_sink = {blob_data, blob_end, blob_free};

static int h_blob(struct bg_http_request *req)
{
    const char *fail = bg_http_query(req, "fail");
    struct blob *b;

    handled++;
    if (!bg_http_content_type_is(req, "application/x-tar"))
        return bg_http_reply_problem(req, BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL, "not a tar");
    b = calloc(1, sizeof(*b));
    b->fail_at = fail ? strtoull(fail, NULL, 10) : 0;
    b->block = bg_http_query(req, "block") != NULL;
    return bg_http_body_stream(req, &blob_sink, b);
}

static atomic_int hooks_run;

static void on_test_close(void *cls)
{
    (void)cls;
    hooks_run++;
}

static int h_hold(struct bg_http_request *req)
{
    handled++;
    assert_int_equal(bg_http_on_close(req, on_test_close, NULL), 0);
    return bg_http_reply_empty(req, 204);
}

static const char *const q_state[] = {"state", NULL};
static const char *const q_blob[] = {"fail", "block", NULL};
static const struct bg_route routes[] = {
    {"GET", "/v1/vms", h_list, 0, q_state, 0},
    {"DELETE", "/v1/vms/{name:vm}", h_vm, 0, NULL, 0},
    {"PATCH", "/v1/vms/{name:vm}", h_vm, BG_ROUTE_BODY, NULL, 0},
    {"POST", "/v1/vms/{name:vm}/start", h_vm, 0, NULL, 0},
    {"GET", "/v1/bad", h_bad_body, 0, NULL, 0},
    {"PUT", "/v1/blob", h_blob, BG_ROUTE_STREAM, q_blob, 0},
    {"POST", "/v1/hold", h_hold, 0, NULL, 0},
};

static struct bg_http_server *srv;
static char sock_path[256];

static int setup(void **state)
{
    struct bg_error err;
    int fd;

    if (bg_test_dir_setup(state) < 0)
        return -1;
    snprintf(sock_path, sizeof(sock_path), "%s/api.sock", bg_test_dir());
    if (bg_listen_unix(sock_path, &fd, &err) < 0)
        return -1;
    struct bg_http_config cfg = {
        .routes = routes,
        .n_routes = BG_ARRAY_SIZE(routes),
        .body_max_bytes = 1024,
        .header_timeout_s = 1,
    };
    return bg_http_server_start(&cfg, fd, &srv, &err) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    bg_http_server_stop(srv, 1000);
    return bg_test_dir_teardown(state);
}

struct reply {
    char raw[65536];
    size_t len;
    int status;
    const char *body; /* after the blank line */
};

/* The value of header name in r (a copy in buf), or NULL. */
static const char *header(const struct reply *r, const char *name, char *buf, size_t size)
{
    char want[64];
    snprintf(want, sizeof(want), "\r\n%s: ", name);
    const char *p = strcasestr(r->raw, want);
    if (!p || (r->body && p > r->body))
        return NULL;
    p += strlen(want);
    size_t n = strcspn(p, "\r");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p);
    return buf;
}

/* Send len bytes as one request (the connection is then half-closed) and read all that comes
 * back until the server closes, within 5 s. */
static void exchange(const void *req, size_t len, struct reply *r)
{
    int fd;

    memset(r, 0, sizeof(*r));
    assert_int_equal(bg_unix_connect(sock_path, &fd), 0);
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    (void)shutdown(fd, SHUT_WR);
    int64_t deadline = bg_now_ms() + 5000;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_true(bg_now_ms() < deadline);
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
        if (n <= 0)
            break;
        r->len += (size_t)n;
    }
    close(fd);
    r->raw[r->len] = '\0';
    if (sscanf(r->raw, "HTTP/1.1 %d ", &r->status) != 1)
        r->status = 0;
    const char *b = strstr(r->raw, "\r\n\r\n");
    r->body = b ? b + 4 : NULL;
}

static void exchange_str(const char *req, struct reply *r)
{
    exchange(req, strlen(req), r);
}

/* r is a problem+json with status and code whose detail holds fragment. */
static void expect_problem(const struct reply *r, int status, const char *code,
                           const char *fragment)
{
    char buf[128];
    json_error_t jerr;

    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->raw);
    assert_non_null(header(r, "Content-Type", buf, sizeof(buf)));
    assert_string_equal(buf, "application/problem+json");
    assert_non_null(header(r, "Banger-Api-Version", buf, sizeof(buf)));
    json_t *j = json_loads(r->body, 0, &jerr);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "code")), code);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    if (!strstr(detail, fragment))
        fail_msg("detail '%s' lacks '%s'", detail, fragment);
    json_decref(j);
}

/* DELETE /v1/vms/a%00b used to act on "a": MHD decoded %00 and the name ended there. */
static void test_percent_00(void **state)
{
    (void)state;
    struct reply r;

    handled = 0;
    exchange_str("DELETE /v1/vms/a%00b HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_path", "'%00' (a NUL byte)");
    exchange_str("GET /v1/vms?state=a%00b HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_query", "'%00' (a NUL byte)");
    exchange_str("GET /v1/vms?st%00ate=a HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_query", "'%00'");
    assert_int_equal(handled, 0);

    /* the rest of the percent-encoding still decodes */
    exchange_str("DELETE /v1/vms/%77eb HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 204);
    assert_string_equal(last_param, "web");
}

static void test_raw_nul_and_controls(void **state)
{
    (void)state;
    struct reply r;
    static const char nul_req[] = "DELETE /v1/vms/a\0b HTTP/1.1\r\nHost: x\r\n\r\n";

    handled = 0;
    exchange(nul_req, sizeof(nul_req) - 1, &r);
    expect_problem(&r, 400, "invalid_path", "the request target holds a NUL byte");
    exchange_str("DELETE /v1/vms/a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_path", "byte 0x01");
    exchange_str("DELETE /v1/vms/a%ff HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_path", "is not valid UTF-8");
    exchange_str("GET /v1/vms?state=%c3 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_query", "is not valid UTF-8");
    exchange_str("GET /v1/vms HTTP/1.1\r\nHost: x\r\nX-A: \xc3\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_header", "the value of header 'X-A' is not valid UTF-8");
    exchange_str("GET /v1/vms HTTP/1.1\r\nHost: x\r\nX-\x01: 1\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_header", "holds a control character");
    assert_int_equal(handled, 0);
}

static void test_long_target(void **state)
{
    (void)state;
    struct reply r;
    size_t n = BG_HTTP_TARGET_MAX + 100;
    char *req = malloc(n + 64);

    int len = sprintf(req, "GET /v1/vms?state=");
    memset(req + len, 'a', n);
    len += (int)n;
    len += sprintf(req + len, " HTTP/1.1\r\nHost: x\r\n\r\n");
    exchange(req, (size_t)len, &r);
    free(req);
    expect_problem(&r, 414, "uri_too_long", "the limit is 8192");
}

static void test_typed_params(void **state)
{
    (void)state;
    struct reply r;

    handled = 0;
    /* 64 bytes: the lifecycle would cut it to 63 and lock a name that is not the one asked */
    exchange_str("PATCH /v1/vms/a234567890123456789012345678901234567890123456789012345678901234 "
                 "HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                 "2\r\n\r\n{}",
                 &r);
    expect_problem(&r, 400, "invalid_path", "name is 64 characters long");
    assert_non_null(strstr(r.body, "\"parameter\":\"name\""));
    exchange_str("POST /v1/vms/Web/start HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 400, "invalid_path", "path parameter 'name' is not a valid VM name");
    assert_int_equal(handled, 0);
}

static void test_head(void **state)
{
    (void)state;
    struct reply get, head;
    char a[64], b[64];

    exchange_str("GET /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n", &get);
    exchange_str("HEAD /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n", &head);
    assert_int_equal(get.status, 200);
    assert_int_equal(head.status, 200);
    assert_string_equal(header(&head, "Content-Length", a, sizeof(a)),
                        header(&get, "Content-Length", b, sizeof(b)));
    assert_string_equal(header(&head, "Content-Type", a, sizeof(a)), "application/json");
    assert_non_null(header(&head, "Banger-Api-Version", a, sizeof(a)));
    assert_string_equal(head.body, "");
    assert_string_equal(get.body, "{\"vms\":[]}");
}

static void test_method_not_allowed(void **state)
{
    (void)state;
    struct reply r;
    char buf[64];

    exchange_str("PUT /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 405, "method_not_allowed", "PUT is not allowed on /v1/vms");
    assert_string_equal(header(&r, "Allow", buf, sizeof(buf)), "GET, HEAD");
    exchange_str("HEAD /v1/vms/web/start HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(header(&r, "Allow", buf, sizeof(buf)), "POST");
}

static void test_unencodable_body(void **state)
{
    (void)state;
    struct reply r;

    exchange_str("GET /v1/bad HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect_problem(&r, 500, "internal", "bangerd could not encode its answer");
    /* and the server is still there */
    exchange_str("GET /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
}

static void test_bodies(void **state)
{
    (void)state;
    struct reply r;

    handled = 0;
    exchange_str("POST /v1/vms/web/start HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 "application/json\r\nContent-Length: 10\r\n\r\n{\"force\":1}",
                 &r);
    expect_problem(&r, 400, "unexpected_body", "takes no request body");
    exchange_str("POST /v1/vms/web/start HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                 "chunked\r\n\r\n3\r\n[1]\r\n0\r\n\r\n",
                 &r);
    expect_problem(&r, 400, "unexpected_body", "send none (or an empty object, {})");
    exchange_str("GET /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n[[[[", &r);
    expect_problem(&r, 400, "unexpected_body", "GET /v1/vms takes no request body");
    exchange_str("POST /v1/vms/web/start HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 99999999999999\r\n\r\n",
                 &r);
    expect_problem(&r, 413, "payload_too_large", "limited to 1024 bytes");
    exchange_str("PATCH /v1/vms/web HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 99999999999999\r\n\r\n",
                 &r);
    expect_problem(&r, 413, "payload_too_large", "limited to 1024 bytes");
    exchange_str("PATCH /v1/vms/web HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: gzip\r\n\r\n",
                 &r);
    expect_problem(&r, 400, "invalid_header", "Transfer-Encoding 'gzip' is not supported");
    assert_int_equal(handled, 0);
    /* nothing, or an empty object (which the CLI sends to start), is no body */
    exchange_str("POST /v1/vms/web/start HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 204);
    exchange_str("POST /v1/vms/web/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 "\r\nContent-Length: 4\r\n\r\n{ }\n",
                 &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(handled, 2);
}

/* A connection that never finishes its headers is shut down after the header timeout (1 s
 * here), with nothing sent back. */
static void test_header_timeout(void **state)
{
    (void)state;
    int fd;
    char c;

    assert_int_equal(bg_unix_connect(sock_path, &fd), 0);
    const char *part = "GET /v1/vms HTTP/1.1\r\nHost: x\r\n";
    assert_int_equal(send(fd, part, strlen(part), MSG_NOSIGNAL), (ssize_t)strlen(part));
    int64_t start = bg_now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(fd, &c, 1, 0), 0);
    assert_true(bg_now_ms() - start >= 900);
    close(fd);
}

/* The checksum blob_data computes, of len bytes of pattern(i). */
static uint64_t pattern_sum(size_t len)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = sum * 31 + (unsigned char)(i * 7 + 3);
    return sum & 0xffffffffffff;
}

static char *pattern(size_t len)
{
    char *p = malloc(len);
    for (size_t i = 0; i < len; i++)
        p[i] = (char)(i * 7 + 3);
    return p;
}

/* Wait up to 5 s for *counter to reach want. */
static void wait_count(atomic_int *counter, int want)
{
    int64_t deadline = bg_now_ms() + 5000;
    while (*counter < want) {
        assert_true(bg_now_ms() < deadline);
        (void)usleep(1000);
    }
    assert_int_equal(*counter, want);
}

static void expect_blob(const struct reply *r, size_t len)
{
    json_error_t jerr;

    if (r->status != 200)
        fail_msg("status %d: %s", r->status, r->raw);
    json_t *j = json_loads(r->body, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), len);
    assert_int_equal(json_integer_value(json_object_get(j, "sum")), pattern_sum(len));
    json_decref(j);
}

/* A body far over body_max_bytes arrives whole and in order, with Content-Length and chunked. */
static void test_stream_body(void **state)
{
    (void)state;
    size_t len = 3u << 20;
    char *body = pattern(len);
    char head[256];
    struct reply *r = malloc(sizeof(*r));

    sinks_freed = sinks_ended = 0;
    int n = snprintf(head, sizeof(head),
                     "PUT /v1/blob HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     len);
    char *req = malloc((size_t)n + len);
    memcpy(req, head, (size_t)n);
    memcpy(req + n, body, len);
    exchange(req, (size_t)n + len, r);
    expect_blob(r, len);
    free(req);

    /* chunked: three chunks of odd sizes */
    size_t sizes[] = {1, 200000, len - 200001};
    size_t off = 0, used = 0;
    req = malloc(len + 4096);
    used += (size_t)sprintf(req, "PUT /v1/blob HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 "application/x-tar; charset=binary\r\nTransfer-Encoding: "
                                 "chunked\r\n\r\n");
    for (size_t i = 0; i < 3; i++) {
        used += (size_t)sprintf(req + used, "%zx\r\n", sizes[i]);
        memcpy(req + used, body + off, sizes[i]);
        used += sizes[i];
        off += sizes[i];
        used += (size_t)sprintf(req + used, "\r\n");
    }
    used += (size_t)sprintf(req + used, "0\r\n\r\n");
    exchange(req, used, r);
    expect_blob(r, len);
    free(req);
    free(body);
    wait_count(&sinks_freed, 2);
    assert_int_equal(sinks_ended, 2);
    free(r);
}

/* The handler sees the headers first and may refuse: the body is never read. A sink that
 * fails has the rest of the body dropped and still answers at the end. */
static void test_stream_refused_and_failed(void **state)
{
    (void)state;
    struct reply r;
    char *body = pattern(100000);
    char *req = malloc(200000);

    sinks_freed = sinks_ended = 0;
    exchange_str("PUT /v1/blob HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Content-Length: 5\r\n\r\nhello",
                 &r);
    expect_problem(&r, 415, "unsupported_media_type", "not a tar");
    assert_int_equal(sinks_freed, 0);

    int n = sprintf(req, "PUT /v1/blob?fail=1000 HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         "application/x-tar\r\nContent-Length: 100000\r\n\r\n");
    memcpy(req + n, body, 100000);
    exchange(req, (size_t)n + 100000, &r);
    expect_problem(&r, 500, "internal", "stopped at");
    wait_count(&sinks_freed, 1);
    assert_int_equal(sinks_ended, 1);
    free(req);
    free(body);
}

static void set_gate(bool open)
{
    pthread_mutex_lock(&gate.lock);
    gate.gate_open = open;
    pthread_cond_broadcast(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

static bool gate_blocked(void)
{
    pthread_mutex_lock(&gate.lock);
    bool b = gate.blocked;
    pthread_mutex_unlock(&gate.lock);
    return b;
}

/* Send all of buf on the non-blocking fd, reading nothing; returns the bytes sent when the
 * socket stopped taking more for 200 ms. */
static size_t send_until_stalled(int fd, const char *buf, size_t len)
{
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        assert_true(n < 0 && errno == EAGAIN);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 200) == 0)
            break;
    }
    return sent;
}

/* Flow control: while the sink holds a piece, the server reads no more, so the client's sends
 * stall long before a 64 MiB body is out; once the sink goes on, all of it arrives. */
static void test_stream_flow_control(void **state)
{
    (void)state;
    size_t len = 64u << 20;
    char *body = pattern(len);
    char head[256];
    struct reply *r = malloc(sizeof(*r));
    int fd;

    set_gate(false);
    assert_int_equal(bg_unix_connect(sock_path, &fd), 0);
    int n = snprintf(head, sizeof(head),
                     "PUT /v1/blob?block=1 HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/x-tar\r\nContent-Length: %zu\r\n\r\n",
                     len);
    assert_int_equal(send(fd, head, (size_t)n, MSG_NOSIGNAL), n);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    size_t sent = send_until_stalled(fd, body, len);
    int64_t deadline = bg_now_ms() + 5000;
    while (!gate_blocked())
        assert_true(bg_now_ms() < deadline);
    sent += send_until_stalled(fd, body + sent, len - sent);
    if (sent >= len / 4)
        fail_msg("%zu of %zu bytes went out while the sink held its first piece", sent, len);
    set_gate(true);
    assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
    assert_int_equal(send(fd, body + sent, len - sent, MSG_NOSIGNAL), (ssize_t)(len - sent));
    (void)shutdown(fd, SHUT_WR);
    memset(r, 0, sizeof(*r));
    for (;;) {
        ssize_t k = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
        if (k <= 0)
            break;
        r->len += (size_t)k;
    }
    close(fd);
    r->raw[r->len] = '\0';
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d ", &r->status), 1);
    r->body = strstr(r->raw, "\r\n\r\n") + 4;
    expect_blob(r, len);
    free(body);
    free(r);
}

/* Part of a body, then the client goes away while the sink holds a piece (or stops sending:
 * the header timeout, 1 s here, ends it): the sink is freed, never ended. */
static void test_stream_cut_and_stalled(void **state)
{
    (void)state;
    const char *blocking = "PUT /v1/blob?block=1 HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           "application/x-tar\r\nContent-Length: 1000000\r\n\r\nsome bytes";
    const char *part = "PUT /v1/blob HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                       "Content-Length: 1000000\r\n\r\nsome bytes";
    int fd;
    char c;

    sinks_freed = sinks_ended = 0;
    set_gate(false);
    assert_int_equal(bg_unix_connect(sock_path, &fd), 0);
    assert_int_equal(send(fd, blocking, strlen(blocking), MSG_NOSIGNAL), (ssize_t)strlen(blocking));
    int64_t deadline = bg_now_ms() + 5000;
    while (!gate_blocked())
        assert_true(bg_now_ms() < deadline);
    close(fd);
    set_gate(true);
    wait_count(&sinks_freed, 1);
    assert_int_equal(sinks_ended, 0);

    assert_int_equal(bg_unix_connect(sock_path, &fd), 0);
    assert_int_equal(send(fd, part, strlen(part), MSG_NOSIGNAL), (ssize_t)strlen(part));
    int64_t start = bg_now_ms();
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(recv(fd, &c, 1, 0), 0);
    assert_true(bg_now_ms() - start >= 900);
    close(fd);
    wait_count(&sinks_freed, 2);
    assert_int_equal(sinks_ended, 0);
}

/* Read one whole response (headers and a Content-Length body) from fd, within 5 s. */
static void read_response(int fd, struct reply *r)
{
    int64_t deadline = bg_now_ms() + 5000;
    memset(r, 0, sizeof(*r));
    for (;;) {
        const char *end = strstr(r->raw, "\r\n\r\n");
        char buf[32];
        if (end) {
            r->body = end + 4;
            const char *cl = header(r, "Content-Length", buf, sizeof(buf));
            if (!cl || (size_t)(r->raw + r->len - r->body) >= strtoul(cl, NULL, 10))
                break;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_true(bg_now_ms() < deadline);
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(fd, r->raw + r->len, sizeof(r->raw) - 1 - r->len, 0);
        assert_true(n > 0);
        r->len += (size_t)n;
        r->raw[r->len] = '\0';
    }
    assert_int_equal(sscanf(r->raw, "HTTP/1.1 %d ", &r->status), 1);
}

/* A close hook runs once the connection closes, not when its request ends: two requests on
 * one kept-alive connection, then the close. */
static void test_close_hook(void **state)
{
    (void)state;
    const char *req = "POST /v1/hold HTTP/1.1\r\nHost: x\r\n\r\n";
    struct reply *r = malloc(sizeof(*r));
    int fd;

    hooks_run = 0;
    assert_int_equal(bg_unix_connect(sock_path, &fd), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        read_response(fd, r);
        assert_int_equal(r->status, 204);
        assert_int_equal(hooks_run, 0);
    }
    close(fd);
    wait_count(&hooks_run, 2);
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percent_00),
        cmocka_unit_test(test_raw_nul_and_controls),
        cmocka_unit_test(test_long_target),
        cmocka_unit_test(test_typed_params),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_unencodable_body),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_header_timeout),
        cmocka_unit_test(test_stream_body),
        cmocka_unit_test(test_stream_refused_and_failed),
        cmocka_unit_test(test_stream_flow_control),
        cmocka_unit_test(test_stream_cut_and_stalled),
        cmocka_unit_test(test_close_hook),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
