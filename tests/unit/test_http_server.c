/* SPDX-License-Identifier: MIT */
/* Unit tests for server/http/server.c through a real socket: raw requests to a small route
 * table, checking what intake refuses before any handler runs (%00, a NUL byte, a long target,
 * bad parameters, stray bodies), HEAD, the 405, a body that does not encode, and the header
 * deadline. */
#include <errno.h>
#include <poll.h>
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

static const char *const q_state[] = {"state", NULL};
static const struct bg_route routes[] = {
    {"GET", "/v1/vms", h_list, 0, q_state, 0},
    {"DELETE", "/v1/vms/{name:vm}", h_vm, 0, NULL, 0},
    {"PATCH", "/v1/vms/{name:vm}", h_vm, BG_ROUTE_BODY, NULL, 0},
    {"POST", "/v1/vms/{name:vm}/start", h_vm, 0, NULL, 0},
    {"GET", "/v1/bad", h_bad_body, 0, NULL, 0},
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
