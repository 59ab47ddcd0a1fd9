/* SPDX-License-Identifier: MIT */
/* Firecracker's HTTP API over its unix socket, with libcurl: one request at a time. */
#include "vmm/firecracker/fcapi.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"

struct bg_fcapi {
    char *sock;
    int timeout_ms;
    CURL *curl; /* reused: keeps the connection, so we hold one of Firecracker's few slots */
};

struct buf {
    char data[BG_FCAPI_BODY_MAX + 1];
    size_t len;
    bool truncated;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct buf *b = ud;
    size_t len = size * n, room = BG_FCAPI_BODY_MAX - b->len;

    if (len > room) {
        b->truncated = true;
        len = room;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return size * n;
}

struct bg_fcapi *bg_fcapi_new(const char *sock_path, int timeout_ms)
{
    struct bg_fcapi *a = bg_calloc(1, sizeof(*a));

    a->sock = bg_strdup(sock_path);
    a->timeout_ms = timeout_ms;
    return a;
}

void bg_fcapi_free(struct bg_fcapi *a)
{
    if (!a)
        return;
    if (a->curl)
        curl_easy_cleanup(a->curl);
    free(a->sock);
    free(a);
}

void bg_fcapi_freep(struct bg_fcapi **a)
{
    bg_fcapi_free(*a);
}

static int transport_error(CURLcode c, const char *method, const char *path, const char *sock,
                           struct bg_error *err)
{
    int code = c == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
               : c == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
                                               : -EIO;

    return bg_error_set(err, code, "%s %s on %s: %s", method, path, sock, curl_easy_strerror(c));
}

/* "METHOD PATH: HTTP n: fault_message" from an error answer. */
static int http_error(long status, const struct buf *b, const char *method, const char *path,
                      struct bg_error *err)
{
    json_t *j = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *fault = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;
    int code = status == 400 ? -EINVAL : -EIO;

    bg_error_set(err, code, "%s %s: HTTP %ld: %s", method, path, status,
                 fault ? fault : (b->len ? "(no fault_message)" : "(empty body)"));
    json_decref(j);
    return code;
}

static void setup(struct bg_fcapi *a, const char *method, const char *url, const char *body,
                  struct curl_slist *hdr, struct buf *b)
{
    CURL *c = a->curl;

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, a->sock);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)a->timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
}

int bg_fcapi_call(struct bg_fcapi *a, const char *method, const char *path, const json_t *body,
                  json_t **ret_body, struct bg_error *err)
{
    bg_autofree char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    bg_autofree char *url = bg_asprintf("http://localhost%s", path);
    bg_autofree struct buf *b = bg_calloc(1, sizeof(*b));
    struct curl_slist *hdr = NULL;
    long status = 0;

    if (!a->curl && !(a->curl = curl_easy_init()))
        return bg_error_set(err, -ENOMEM, "curl_easy_init failed");
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (text)
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    /* Firecracker does not speak 100-continue */
    hdr = curl_slist_append(hdr, "Expect:");
    setup(a, method, url, text, hdr, b);
    CURLcode c = curl_easy_perform(a->curl);
    curl_slist_free_all(hdr);
    if (c != CURLE_OK)
        return transport_error(c, method, path, a->sock, err);
    curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
        return http_error(status, b, method, path, err);
    if (!ret_body)
        return 0;
    *ret_body = NULL;
    if (status == 204 || b->len == 0)
        return 0;
    if (b->truncated || !(*ret_body = json_loadb(b->data, b->len, 0, NULL)))
        return bg_error_set(err, -EBADMSG, "%s %s: HTTP %ld with a body that is not JSON", method,
                            path, status);
    return 0;
}

int bg_fcapi_put(struct bg_fcapi *a, const char *path, const json_t *body, struct bg_error *err)
{
    return bg_fcapi_call(a, "PUT", path, body, NULL, err);
}
