/* SPDX-License-Identifier: MIT */
/* libcurl over CURLOPT_UNIX_SOCKET_PATH; turns problem+json answers into struct bg_error. */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

#define CONNECT_TIMEOUT_S 10L
#define REQUEST_TIMEOUT_S 360L /* above the longest ?wait= the API allows (300 s) */

/* One transfer in flight: the body so far and, for streams, the per-line callback. */
struct transfer {
    CURL *curl;
    char *data;
    size_t len;
    bool too_big;
    bg_cli_http_line_fn line_fn; /* NULL unless streaming */
    void *userdata;
    int line_result; /* first negative line_fn result */
};

static void curl_cleanupp(CURL **c)
{
    if (*c)
        curl_easy_cleanup(*c);
}

static CURL *easy_for(const char *socket, bool *ret_owned);

static void slist_freep(struct curl_slist **l)
{
    curl_slist_free_all(*l);
}

static bool streaming_now(struct transfer *t)
{
    long status = 0;

    if (!t->line_fn)
        return false;
    (void)curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    return status == 200;
}

/* Hand every complete line in t->data to the callback and keep the incomplete rest. */
static int deliver_lines(struct transfer *t, bool flush)
{
    size_t start = 0;
    char *nl;

    while ((nl = memchr(t->data + start, '\n', t->len - start)) || (flush && start < t->len)) {
        size_t end = nl ? (size_t)(nl - t->data) : t->len;
        t->data[end] = '\0';
        int r = t->line_fn(t->data + start, end - start, t->userdata);
        start = nl ? end + 1 : t->len;
        if (r < 0) {
            t->line_result = r;
            return r;
        }
    }
    memmove(t->data, t->data + start, t->len - start);
    t->len -= start;
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct transfer *t = userdata;
    size_t n = size * nmemb;
    bool stream = streaming_now(t);
    size_t cap = stream ? BG_CLI_HTTP_LINE_MAX : BG_CLI_HTTP_BODY_MAX;

    if (t->len + n > cap) {
        t->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    t->data = bg_realloc(t->data, t->len + n + 1);
    memcpy(t->data + t->len, ptr, n);
    t->len += n;
    t->data[t->len] = '\0';
    if (stream && deliver_lines(t, false) < 0)
        return 0;
    return n;
}

int bg_cli_http_unreachable(const char *socket, long os_errno, const char *reason,
                            struct bg_error *err)
{
    return bg_error_set(err, os_errno ? -(int)os_errno : -ECONNREFUSED,
                        "cannot reach bangerd at %s (%s); start it with 'bangerd' or set "
                        "--socket/BANGER_SOCKET",
                        socket, reason);
}

/* While pinned (bg_cli_http_pin), requests to its socket share one easy handle, and with it
 * libcurl's kept-alive connection. A CLI runs its requests one after another, on one thread. */
static struct {
    char *socket;
    CURL *easy;
} pin;

int bg_cli_http_pin(const char *socket, struct bg_error *err)
{
    bg_cli_http_unpin();
    if (!(pin.easy = curl_easy_init()))
        return bg_error_set(err, -ENOMEM, "cannot prepare the request to bangerd");
    pin.socket = bg_strdup(socket);
    return 0;
}

void bg_cli_http_unpin(void)
{
    if (pin.easy)
        curl_easy_cleanup(pin.easy); /* closes the connection */
    free(pin.socket);
    pin.socket = NULL;
    pin.easy = NULL;
}

/* The easy handle for a request to socket: the pinned one (reset, its connection kept), or a
 * new one; *ret_owned says whether the caller cleans it up. */
static CURL *easy_for(const char *socket, bool *ret_owned)
{
    *ret_owned = !pin.easy || strcmp(pin.socket, socket);
    if (*ret_owned)
        return curl_easy_init();
    curl_easy_reset(pin.easy);
    return pin.easy;
}

int bg_cli_http_pinned_fd(const char *socket)
{
    curl_socket_t fd = CURL_SOCKET_BAD;

    if (!pin.easy || strcmp(pin.socket, socket) ||
        curl_easy_getinfo(pin.easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
        return -1;
    return fd == CURL_SOCKET_BAD ? -1 : (int)fd;
}

void bg_cli_http_setup(CURL *c, const char *socket, char *errbuf)
{
    (void)curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
}

int bg_cli_http_transport_error(CURL *c, CURLcode rc, const char *socket, const char *errbuf,
                                struct bg_error *err)
{
    long os_errno = 0;
    const char *reason = errbuf[0] ? errbuf : curl_easy_strerror(rc);

    (void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno > 0)
        reason = strerror((int)os_errno);
    if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST)
        return bg_cli_http_unreachable(socket, os_errno > 0 ? os_errno : 0, reason, err);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return bg_error_set(err, -ETIMEDOUT, "bangerd at %s did not answer in time", socket);
    return bg_error_set(err, -EIO, "request to bangerd at %s failed (%s)", socket, reason);
}

static void add_header(struct curl_slist **l, const char *h)
{
    struct curl_slist *n = curl_slist_append(*l, h);

    if (!n)
        abort(); /* only fails when out of memory, which is never an error path */
    *l = n;
}

CURLcode bg_cli_http_perform(CURL *c)
{
    int64_t deadline = bg_now_ms() + CONNECT_TIMEOUT_S * 1000;
    int delay_ms = 5;

    for (;;) {
        long os_errno = 0;
        CURLcode rc = curl_easy_perform(c);
        (void)curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
        if (rc != CURLE_COULDNT_CONNECT || (os_errno != 0 && os_errno != EAGAIN) ||
            bg_now_ms() + delay_ms >= deadline)
            return rc;
        (void)poll(NULL, 0, delay_ms);
        delay_ms = delay_ms < 200 ? delay_ms * 2 : 200;
    }
}

/* Run one transfer; the body lands in t (or goes to its line callback). */
static int perform(const char *socket, const char *method, const char *path, json_t *body,
                   struct transfer *t, long *ret_status, struct bg_error *err)
{
    bool owned;
    CURL *c = easy_for(socket, &owned);
    bg_auto(curl_cleanupp) CURL *cleanup = owned ? c : NULL;
    bg_auto(slist_freep) struct curl_slist *hdrs = NULL;
    bg_autofree char *url = bg_asprintf("http://localhost%s", path);
    bg_autofree char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char errbuf[CURL_ERROR_SIZE] = "";

    if (!c || (body && !payload))
        return bg_error_set(err, -ENOMEM, "cannot prepare the request to bangerd");
    t->curl = c;
    add_header(&hdrs, "Accept: application/json, application/problem+json");
    add_header(&hdrs, "Expect:");
    if (payload) {
        add_header(&hdrs, "Content-Type: application/json");
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    }
    bg_cli_http_setup(c, socket, errbuf);
    (void)curl_easy_setopt(c, CURLOPT_URL, url);
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT, t->line_fn ? 0L : REQUEST_TIMEOUT_S);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, t);

    CURLcode rc = bg_cli_http_perform(c);
    if (rc == CURLE_OK && streaming_now(t))
        (void)deliver_lines(t, true);
    if (t->line_result < 0)
        return t->line_result;
    if (t->too_big)
        return bg_error_set(err, -EMSGSIZE, "the answer from bangerd is too large");
    if (rc != CURLE_OK)
        return bg_cli_http_transport_error(c, rc, socket, errbuf, err);
    (void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, ret_status);
    return 0;
}

static int parse_body(const struct transfer *t, json_t **ret_json, struct bg_error *err)
{
    json_error_t jerr;
    json_t *j;

    if (t->len == 0) {
        *ret_json = NULL;
        return 0;
    }
    j = json_loadb(t->data, t->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return bg_error_set(err, -EPROTO, "bangerd sent an answer that is not JSON (%s)",
                            jerr.text);
    *ret_json = j;
    return 0;
}

int bg_cli_http_request(const char *socket, const char *method, const char *path, json_t *body,
                        long *ret_status, json_t **ret_json, struct bg_error *err)
{
    struct transfer t = {0};
    bg_autofree char *data = NULL;
    long status = 0;
    int r = perform(socket, method, path, body, &t, &status, err);

    data = t.data;
    if (r < 0)
        return r;
    r = parse_body(&t, ret_json, err);
    if (r < 0)
        return r;
    *ret_status = status;
    return 0;
}

int bg_cli_http_status_errno(long status)
{
    switch (status) {
    case 400:
        return -EINVAL;
    case 404:
        return -ENOENT;
    case 409:
        return -EEXIST;
    case 410:
        return -ESTALE;
    case 503:
        return -EAGAIN;
    default:
        return -EIO;
    }
}

/* The human message of a problem answer: its detail, else its title, else the status. */
int bg_cli_http_problem_error(long status, json_t *j, struct bg_error *err)
{
    const char *msg = json_string_value(json_object_get(j, "detail"));

    if (!msg || !*msg)
        msg = json_string_value(json_object_get(j, "title"));
    if (!msg || !*msg)
        return bg_error_set(err, bg_cli_http_status_errno(status), "bangerd answered HTTP %ld",
                            status);
    return bg_error_set(err, bg_cli_http_status_errno(status), "%s", msg);
}

int bg_cli_http_call(const char *socket, const char *method, const char *path, json_t *body,
                     json_t **ret_json, struct bg_error *err)
{
    json_t *j = NULL;
    long status = 0;
    int r = bg_cli_http_request(socket, method, path, body, &status, &j, err);

    if (r < 0)
        return r;
    if (status < 200 || status > 299) {
        r = bg_cli_http_problem_error(status, j, err);
        json_decref(j);
        return r;
    }
    if (ret_json)
        *ret_json = j;
    else
        json_decref(j);
    return 0;
}

int bg_cli_http_stream(const char *socket, const char *path, bg_cli_http_line_fn fn, void *userdata,
                       struct bg_error *err)
{
    struct transfer t = {.line_fn = fn, .userdata = userdata};
    bg_autofree char *data = NULL;
    long status = 0;
    json_t *j = NULL;
    int r = perform(socket, "GET", path, NULL, &t, &status, err);

    data = t.data;
    if (r < 0 || status == 200)
        return r;
    r = parse_body(&t, &j, err);
    if (r < 0)
        return r;
    r = bg_cli_http_problem_error(status, j, err);
    json_decref(j);
    return r;
}

char *bg_cli_http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy;

    if (!e)
        abort(); /* only fails when out of memory */
    copy = bg_strdup(e);
    curl_free(e);
    return copy;
}
