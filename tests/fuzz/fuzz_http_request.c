/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the whole HTTP server: arbitrary bytes are sent as one request over a
 * unix socket to a real bg_http_server (its accept loop, libmicrohttpd, intake, router,
 * replies) serving a small route table. Invariants: what comes back is nothing or an HTTP/1.1
 * response; one that says application/problem+json carries Banger-Api-Version and (unless
 * the request was HEAD) a JSON object with a string code and the HTTP status; and the server
 * closes the connection once the client has sent everything. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "banger/macro.h"
#include "banger/timefmt.h"
#include "host/listen.h"
#include "host/unixsock.h"
#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define REPLY_MAX (1024 * 1024)
#define CLOSE_DEADLINE_MS 5000

static int h_list(struct bg_http_request *req)
{
    const char *state = bg_http_query(req, "state");
    return bg_http_reply_json(req, 200, json_pack("{s:s?}", "state", state));
}

static int h_get(struct bg_http_request *req)
{
    return bg_http_reply_json(req, 200, json_pack("{s:s}", "name", req->params[0]));
}

static int h_patch(struct bg_http_request *req)
{
    json_t *body;
    int r;

    if (bg_http_body_object(req, &body, &r) < 0)
        return r;
    json_object_set_new(body, "name", json_string(req->params[0]));
    return bg_http_reply_json(req, 200, body);
}

/* Echoes the body's keys and values as they are: json_dumps may refuse them. */
static int h_echo(struct bg_http_request *req)
{
    json_t *j = json_object();
    json_object_set_new_nocheck(j, "raw",
                                json_stringn_nocheck(req->body ? req->body : "", req->body_len));
    return bg_http_reply_json(req, 201, j);
}

static int h_delete(struct bg_http_request *req)
{
    (void)req;
    return bg_http_reply_empty(req, 204);
}

static const char *const q_state[] = {"state", NULL};
static const char *const q_wait[] = {"wait", NULL};
static const struct bg_route routes[] = {
    {"GET", "/v1/vms", h_list, 0, q_state, 0},
    {"GET", "/v1/vms/{name:vm}", h_get, 0, NULL, 0},
    {"PATCH", "/v1/vms/{name:vm}", h_patch, BG_ROUTE_BODY, NULL, 0},
    {"DELETE", "/v1/vms/{name:vm}", h_delete, 0, NULL, 0},
    {"POST", "/v1/vms/{name:vm}/exec", h_echo, BG_ROUTE_BODY, NULL, 0},
    {"GET", "/v1/operations/{id:operation}", h_delete, 0, q_wait, 0},
    {"GET", "/v1/execs/{id:exec}", h_delete, 0, NULL, 0},
    {"GET", "/v1/images/{name:image}", h_get, 0, NULL, 0},
};

static char sock_path[128];

static void start_server(void)
{
    static struct bg_http_server *srv;
    struct bg_error err;
    char dir[] = "/tmp/banger-fuzz-http.XXXXXX";
    int fd;

    if (srv)
        return;
    CHECK(mkdtemp(dir) != NULL);
    snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
    CHECK(bg_listen_unix(sock_path, &fd, &err) == 0);
    struct bg_http_config cfg = {
        .routes = routes,
        .n_routes = BG_ARRAY_SIZE(routes),
        .body_max_bytes = 4096,
        .header_timeout_s = 2,
        .idle_timeout_s = 2,
    };
    CHECK(bg_http_server_start(&cfg, fd, &srv, &err) == 0);
}

/* Send data, half-close, and read everything until the server closes. */
static size_t exchange(const uint8_t *data, size_t size, char *out, size_t cap)
{
    int fd;
    size_t len = 0, sent = 0;
    int64_t deadline = bg_now_ms() + CLOSE_DEADLINE_MS;

    CHECK(bg_unix_connect(sock_path, &fd) == 0);
    while (sent < size) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server answered early and closed: what it sent is still read */
        sent += (size_t)n;
    }
    (void)shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - bg_now_ms();
        CHECK(left > 0); /* the server must close once the client has sent all */
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        ssize_t n = recv(fd, out + len, cap - 1 - len, 0);
        if (n <= 0 || (len += (size_t)n) == cap - 1)
            break;
    }
    (void)close(fd);
    out[len] = '\0';
    return len;
}

/* The value of header name in the header block head (len bytes), NUL-terminated into buf. */
static const char *header_value(const char *head, size_t len, const char *name, char *buf,
                                size_t size)
{
    size_t nlen = strlen(name);

    for (const char *p = memchr(head, '\n', len); p && p < head + len;
         p = memchr(p + 1, '\n', (size_t)(head + len - p - 1))) {
        const char *line = p + 1;
        if ((size_t)(head + len - line) > nlen + 1 && !strncasecmp(line, name, nlen) &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn(v, "\r\n");
            snprintf(buf, size, "%.*s", (int)(vlen < size ? vlen : size - 1), v);
            return buf;
        }
    }
    return NULL;
}

static bool request_is_head(const uint8_t *data, size_t size)
{
    size_t i = 0;
    while (i < size && (data[i] == '\r' || data[i] == '\n'))
        i++;
    return size - i >= 5 && !memcmp(data + i, "HEAD ", 5);
}

/* The first response of reply (len bytes) keeps the invariants. */
static void check_reply(const char *reply, size_t len, bool head)
{
    int status;
    char buf[64];

    if (len == 0)
        return;
    CHECK(len >= 13 && !memcmp(reply, "HTTP/1.1 ", 9));
    CHECK(sscanf(reply + 9, "%3d", &status) == 1 && status >= 100 && status <= 599);
    const char *end = strstr(reply, "\r\n\r\n");
    CHECK(end != NULL);
    size_t head_len = (size_t)(end - reply);
    const char *ct = header_value(reply, head_len, "Content-Type", buf, sizeof(buf));
    if (!ct || strcmp(ct, "application/problem+json"))
        return;
    CHECK(header_value(reply, head_len, "Banger-Api-Version", buf, sizeof(buf)) != NULL);
    CHECK(status >= 400);
    if (head)
        return;
    CHECK(header_value(reply, head_len, "Content-Length", buf, sizeof(buf)) != NULL);
    size_t clen = strtoul(buf, NULL, 10);
    const char *body = end + 4;
    CHECK((size_t)(reply + len - body) >= clen);
    json_error_t jerr;
    json_t *j = json_loadb(body, clen, 0, &jerr);
    CHECK(json_is_object(j));
    CHECK(json_is_string(json_object_get(j, "code")));
    CHECK(json_integer_value(json_object_get(j, "status")) == status);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char reply[REPLY_MAX];

    start_server();
    size_t len = exchange(data, size, reply, sizeof(reply));
    check_reply(reply, len, request_is_head(data, size));
    return 0;
}
