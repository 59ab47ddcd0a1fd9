/* SPDX-License-Identifier: MIT */
/* HTTP Upgrade, client side: connect with libcurl (unix socket, or a remote over TLS), then the
 * exchange by hand through curl_easy_send/recv. */
#include "upgrade.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "banger/alloc.h"
#include "banger/parse.h"
#include "http.h"

#define HEAD_MAX 16384
#define BODY_MAX (1u << 20)

void bg_cli_upgrade_free(struct bg_cli_upgrade *u)
{
    if (!u)
        return;
    if (u->curl)
        curl_easy_cleanup(u->curl);
    free(u->head);
    free(u->extra);
    free(u);
}

static void slist_freep(struct curl_slist **l)
{
    curl_slist_free_all(*l);
}

/* Wait until the connection can take (POLLOUT) or give (POLLIN) bytes. */
static void wait_for(const struct bg_cli_upgrade *u, short events)
{
    struct pollfd p = {.fd = u->fd, .events = events};

    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
}

int bg_cli_upgrade_send(struct bg_cli_upgrade *u, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        size_t n = 0;
        if (u->curl) {
            CURLcode rc = curl_easy_send(u->curl, p, len, &n);
            if (rc == CURLE_AGAIN) {
                wait_for(u, POLLOUT);
                continue;
            }
            if (rc != CURLE_OK)
                return -ECONNRESET;
        } else {
            ssize_t got = send(u->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) {
                wait_for(u, POLLOUT);
                continue;
            }
            if (got < 0)
                return -ECONNRESET;
            n = (size_t)got;
        }
        p += n;
        len -= n;
    }
    return 0;
}

ssize_t bg_cli_upgrade_recv(struct bg_cli_upgrade *u, void *buf, size_t cap)
{
    if (u->curl) {
        size_t n = 0;
        CURLcode rc = curl_easy_recv(u->curl, buf, cap, &n);
        if (rc == CURLE_AGAIN)
            return -EAGAIN;
        return rc == CURLE_OK ? (ssize_t)n : -ECONNRESET;
    }
    ssize_t n = recv(u->fd, buf, cap, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return -EAGAIN;
    return n < 0 ? -ECONNRESET : n;
}

/* bg_cli_upgrade_recv, waiting for bytes first when there are none. */
static ssize_t recv_wait(struct bg_cli_upgrade *u, void *buf, size_t cap)
{
    ssize_t n;

    while ((n = bg_cli_upgrade_recv(u, buf, cap)) == -EAGAIN)
        wait_for(u, POLLIN);
    return n;
}

/* Connect with curl to the endpoint in use (the unix socket, or a remote over TLS with its pin
 * checked), or take the connection bg_cli_http_pin holds. *ret_headers gets the endpoint's own
 * header lines ("Authorization: ...\r\n") for the request; the caller frees them. */
static int connect_raw(struct bg_cli_upgrade *u, const char *socket, char **ret_headers,
                       struct bg_error *err)
{
    bg_auto(slist_freep) struct curl_slist *hdrs = NULL;
    bg_autofree char *url = NULL;
    curl_socket_t fd = CURL_SOCKET_BAD;
    /* a remote's pinned connection is TLS inside its own handle: upgrade a new one (the
     * pinned one stays open beside it, which is what ties an auto-remove VM to this CLI) */
    int pinned = bg_cli_http_remote() ? -1 : bg_cli_http_pinned_fd(socket);
    int r;

    if (pinned >= 0) {
        u->fd = pinned;
        *ret_headers = bg_strdup("");
        return 0;
    }
    u->curl = curl_easy_init();
    if (!u->curl)
        return bg_error_set(err, -ENOMEM, "cannot prepare the request to bangerd");
    if ((r = bg_cli_http_target(u->curl, socket, "/", &u->seen, &hdrs, &url, err)) < 0)
        return r;
    bg_cli_http_setup(u->curl, u->errbuf);
    (void)curl_easy_setopt(u->curl, CURLOPT_CONNECT_ONLY, 1L);
    CURLcode rc = bg_cli_http_perform(u->curl);
    if (rc != CURLE_OK)
        return bg_cli_http_transport_error(u->curl, rc, socket, u->errbuf, &u->seen, err);
    if (u->seen.pin && !u->seen.any)
        return bg_error_set(err, -EPROTO, "%s showed no certificate to check", socket);
    if (curl_easy_getinfo(u->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
        return bg_error_set(err, -EIO, "cannot get the connection to bangerd");
    u->fd = (int)fd;
    size_t len = 0;
    for (const struct curl_slist *h = hdrs; h; h = h->next)
        len += strlen(h->data) + 2;
    char *lines = bg_malloc(len + 1);
    lines[0] = '\0';
    for (const struct curl_slist *h = hdrs; h; h = h->next)
        strcat(strcat(lines, h->data), "\r\n");
    *ret_headers = lines;
    return 0;
}

/* Read until the end of the answer's head into buf (HEAD_MAX + 1 bytes); *ret_len is what
 * was read, *ret_head_len the head's length with its blank line. */
static int read_head(struct bg_cli_upgrade *u, char *buf, size_t *ret_len, size_t *ret_head_len,
                     struct bg_error *err)
{
    size_t len = 0;

    for (;;) {
        ssize_t n = recv_wait(u, buf + len, HEAD_MAX - len);
        if (n <= 0)
            return bg_error_set(err, -ECONNRESET, "bangerd closed the connection before answering");
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            *ret_len = len;
            *ret_head_len = (size_t)(end - buf) + 4;
            return 0;
        }
        if (len == HEAD_MAX)
            return bg_error_set(err, -EPROTO, "bangerd sent an oversized answer head");
    }
}

/* A refused upgrade: read the problem body and turn it into err. */
static int refusal(struct bg_cli_upgrade *u, const char *in, size_t in_len, long status,
                   size_t head_len, struct bg_error *err)
{
    const char *cl = strcasestr(in, "\r\nContent-Length:");
    uint64_t len = 0;
    char num[24] = "";

    if (cl && (size_t)(cl - in) < head_len) {
        cl += 17;
        cl += strspn(cl, " \t");
        size_t n = strspn(cl, "0123456789");
        snprintf(num, sizeof(num), "%.*s", (int)(n < sizeof(num) ? n : sizeof(num) - 1), cl);
    }
    if (bg_parse_u64(num, 0, BODY_MAX, &len, NULL) < 0)
        return bg_error_set(err, bg_cli_http_status_errno(status), "bangerd answered HTTP %ld",
                            status);
    bg_autofree char *body = bg_malloc(len + 1);
    size_t have = in_len - head_len < len ? in_len - head_len : len;
    memcpy(body, in + head_len, have);
    while (have < len) {
        ssize_t n = recv_wait(u, body + have, len - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    json_t *j = json_loadb(body, have, 0, NULL);
    const char *detail = json_string_value(json_object_get(j, "detail"));
    int r = detail ? bg_error_set(err, bg_cli_http_status_errno(status), "%s", detail)
                   : bg_error_set(err, bg_cli_http_status_errno(status),
                                  "bangerd answered HTTP %ld", status);
    json_decref(j);
    return r;
}

/* The status code of "HTTP/1.x NNN ...", or -1. */
static long parse_status(const char *head)
{
    char code[4];
    uint64_t v;

    if (strncmp(head, "HTTP/1.1 ", 9) && strncmp(head, "HTTP/1.0 ", 9))
        return -1;
    snprintf(code, sizeof(code), "%.3s", head + 9);
    return bg_parse_u64(code, 100, 599, &v, NULL) < 0 ? -1 : (long)v;
}

/* Send the request, read the answer's head; on 101 keep the head and what followed it. */
static int exchange(struct bg_cli_upgrade *u, const char *path, const char *protocol, json_t *body,
                    const char *headers, struct bg_error *err)
{
    bg_autofree char *payload = json_dumps(body, JSON_COMPACT);
    bg_autofree char *in = bg_malloc(HEAD_MAX + 1);
    size_t in_len = 0, head_len = 0;
    long status;
    int r;

    if (!payload)
        return bg_error_set(err, -EINVAL, "cannot encode the request to bangerd");
    bg_autofree char *req =
        bg_asprintf("POST %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: %s\r\nConnection: Upgrade\r\n"
                    "Content-Type: application/json\r\nAccept: application/problem+json\r\n"
                    "%sContent-Length: %zu\r\n\r\n%s",
                    path, protocol, headers, strlen(payload), payload);
    r = bg_cli_upgrade_send(u, req, strlen(req));
    explicit_bzero(req, strlen(req)); /* it holds the token of a remote */
    if (r < 0)
        return bg_error_set(err, r, "send the request to bangerd: the connection broke");
    if ((r = read_head(u, in, &in_len, &head_len, err)) < 0)
        return r;
    if ((status = parse_status(in)) < 0)
        return bg_error_set(err, -EPROTO, "bangerd sent something that is not HTTP");
    if (status != 101)
        return refusal(u, in, in_len, status, head_len, err);
    u->head = bg_strndup(in, head_len);
    u->extra_len = in_len - head_len;
    u->extra = bg_malloc(u->extra_len + 1);
    memcpy(u->extra, in + head_len, u->extra_len);
    return 0;
}

int bg_cli_upgrade_open(const char *socket, const char *path, const char *protocol, json_t *body,
                        struct bg_cli_upgrade **ret, struct bg_error *err)
{
    struct bg_cli_upgrade *u = bg_calloc(1, sizeof(*u));
    bg_autofree char *headers = NULL;
    int r;

    u->fd = -1;
    if ((r = connect_raw(u, socket, &headers, err)) < 0 ||
        (r = exchange(u, path, protocol, body, headers, err)) < 0) {
        bg_cli_upgrade_free(u);
        return r;
    }
    *ret = u;
    return 0;
}

bool bg_cli_upgrade_header(const struct bg_cli_upgrade *u, const char *name, char *buf, size_t size)
{
    size_t name_len = strlen(name);

    /* every header line follows a "\r\n"; the status line comes first */
    for (const char *p = strstr(u->head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, name_len) || line[name_len] != ':')
            continue;
        const char *v = line + name_len + 1;
        v += strspn(v, " \t");
        size_t n = (size_t)(strstr(v, "\r\n") - v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n >= size)
            return false;
        memcpy(buf, v, n);
        buf[n] = '\0';
        return true;
    }
    return false;
}
