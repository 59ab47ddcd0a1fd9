/* SPDX-License-Identifier: MIT */
/* Streamed transfers on curl's multi interface: the caller's send and recv drive curl until
 * their data can move, with both buffers bounded and curl paused while one is full or empty. */
#include "xfer.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "http.h"

#define PROBLEM_MAX (64u * 1024) /* bytes kept of an answer that is not 2xx */
#define POLL_MS 1000

struct buf {
    char *data;
    size_t len, off; /* data[off, len) is unread */
};

struct bg_cli_xfer {
    char *socket;
    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    struct bg_cli_tls_seen seen; /* the pin check of a remote's connection */
    bool has_body;
    struct buf out;    /* body bytes not yet taken by curl */
    bool out_done;     /* the body ended */
    bool out_abort;    /* cut the transfer off */
    bool read_paused;  /* curl waits for body bytes */
    struct buf in;     /* 2xx answer bytes not yet read */
    bool write_paused; /* curl holds answer bytes back */
    long status;       /* of the final answer once its head is in, else 0 */
    bool done;
    CURLcode result;
};

static size_t buf_unread(const struct buf *b)
{
    return b->len - b->off;
}

static void buf_append(struct buf *b, const char *data, size_t n)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->off > BG_CLI_XFER_BUF) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    b->data = bg_realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static size_t on_read(char *ptr, size_t size, size_t nitems, void *cls)
{
    struct bg_cli_xfer *x = cls;
    size_t n = buf_unread(&x->out);

    if (x->out_abort)
        return CURL_READFUNC_ABORT;
    if (n == 0 && x->out_done)
        return 0;
    if (n == 0) {
        x->read_paused = true;
        return CURL_READFUNC_PAUSE;
    }
    if (n > size * nitems)
        n = size * nitems;
    memcpy(ptr, x->out.data + x->out.off, n);
    x->out.off += n;
    return n;
}

/* The final answer's status once its head is complete (1xx heads are skipped). */
static size_t on_header(char *ptr, size_t size, size_t nitems, void *cls)
{
    struct bg_cli_xfer *x = cls;
    size_t n = size * nitems;
    long status = 0;

    if (n <= 2 && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
        (void)curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200)
            x->status = status;
    }
    return n;
}

static size_t on_write(char *ptr, size_t size, size_t nitems, void *cls)
{
    struct bg_cli_xfer *x = cls;
    size_t n = size * nitems;
    bool ok = x->status >= 200 && x->status <= 299;

    if (!ok && buf_unread(&x->in) + n > PROBLEM_MAX)
        return 0; /* aborts: no problem is that long */
    if (ok && buf_unread(&x->in) >= BG_CLI_XFER_BUF) {
        x->write_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    buf_append(&x->in, ptr, n);
    return n;
}

int bg_cli_xfer_start(const char *socket, const char *method, const char *path,
                      const char *body_type, struct bg_cli_xfer **ret, struct bg_error *err)
{
    struct bg_cli_xfer *x = bg_calloc(1, sizeof(*x));
    bg_autofree char *url = NULL;
    int r;

    x->socket = bg_strdup(socket);
    x->easy = curl_easy_init();
    x->multi = curl_multi_init();
    if (!x->easy || !x->multi) {
        bg_cli_xfer_free(x);
        return bg_error_set(err, -ENOMEM, "cannot prepare the request to bangerd");
    }
    if ((r = bg_cli_http_target(x->easy, socket, path, &x->seen, &x->hdrs, &url, err)) < 0) {
        bg_cli_xfer_free(x);
        return r;
    }
    bg_cli_http_setup(x->easy, x->errbuf);
    x->hdrs = curl_slist_append(x->hdrs, "Accept: application/x-tar, application/json, "
                                         "application/problem+json");
    if (body_type) {
        bg_autofree char *ct = bg_asprintf("Content-Type: %s", body_type);
        x->has_body = true;
        x->hdrs = curl_slist_append(x->hdrs, ct);
        (void)curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
        (void)curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, on_read);
        (void)curl_easy_setopt(x->easy, CURLOPT_READDATA, x);
    }
    if (!x->hdrs)
        abort(); /* only fails when out of memory, which is never an error path */
    (void)curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdrs);
    (void)curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    (void)curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    (void)curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_write);
    (void)curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    (void)curl_multi_add_handle(x->multi, x->easy);
    *ret = x;
    return 0;
}

/* One round of curl: move what can move, or wait up to POLL_MS for the socket. */
static void drive(struct bg_cli_xfer *x)
{
    int running = 0, left = 0;
    CURLMsg *m;

    if (x->read_paused && (buf_unread(&x->out) || x->out_done || x->out_abort)) {
        x->read_paused = false;
        (void)curl_easy_pause(x->easy, CURLPAUSE_CONT);
    }
    if (x->write_paused && buf_unread(&x->in) < BG_CLI_XFER_BUF) {
        x->write_paused = false;
        (void)curl_easy_pause(x->easy, CURLPAUSE_CONT);
    }
    (void)curl_multi_perform(x->multi, &running);
    while ((m = curl_multi_info_read(x->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            x->done = true;
            x->result = m->data.result;
        }
    if (!x->done && running)
        (void)curl_multi_poll(x->multi, NULL, 0, POLL_MS, NULL);
}

int bg_cli_xfer_send(struct bg_cli_xfer *x, const void *buf, size_t len, struct bg_error *err)
{
    buf_append(&x->out, buf, len);
    while (buf_unread(&x->out) > BG_CLI_XFER_BUF && !x->done)
        drive(x);
    if (!x->done)
        return 0;
    if (x->result != CURLE_OK && x->status == 0)
        return bg_cli_http_transport_error(x->easy, x->result, x->socket, x->errbuf, &x->seen, err);
    return bg_error_set(err, -EPIPE, "bangerd answered before taking the whole body");
}

/* The answer of a finished transfer: a problem's detail, or the transport's failure. */
static int answer_error(struct bg_cli_xfer *x, struct bg_error *err)
{
    json_t *j;

    if (x->status >= 300 || (x->status > 0 && x->status < 200)) {
        j = json_loadb(x->in.data ? x->in.data + x->in.off : "", buf_unread(&x->in), 0, NULL);
        int r = bg_cli_http_problem_error(x->status, j, err);
        json_decref(j);
        return r;
    }
    if (x->result != CURLE_OK)
        return bg_cli_http_transport_error(x->easy, x->result, x->socket, x->errbuf, &x->seen, err);
    return 0;
}

int bg_cli_xfer_finish(struct bg_cli_xfer *x, bool abort, json_t **ret_json, struct bg_error *err)
{
    json_error_t jerr;
    int r;

    x->out_done = true;
    x->out_abort = abort;
    while (!x->done)
        drive(x);
    if (abort && x->status == 0)
        return bg_error_set(err, -ECANCELED, "the transfer was cut off");
    if ((r = answer_error(x, err)) < 0)
        return r;
    if (abort)
        return bg_error_set(err, -ECANCELED, "the transfer was cut off");
    json_t *j = NULL;
    if (buf_unread(&x->in) &&
        !(j = json_loadb(x->in.data + x->in.off, buf_unread(&x->in), 0, &jerr)))
        return bg_error_set(err, -EPROTO, "bangerd sent an answer that is not JSON (%s)",
                            jerr.text);
    if (ret_json)
        *ret_json = j;
    else
        json_decref(j);
    return 0;
}

ssize_t bg_cli_xfer_recv(struct bg_cli_xfer *x, void *buf, size_t len, struct bg_error *err)
{
    for (;;) {
        bool ok = x->status >= 200 && x->status <= 299;
        if (ok && buf_unread(&x->in)) {
            size_t n = buf_unread(&x->in) < len ? buf_unread(&x->in) : len;
            memcpy(buf, x->in.data + x->in.off, n);
            x->in.off += n;
            return (ssize_t)n;
        }
        if (x->done)
            break;
        drive(x);
    }
    if (x->status >= 200 && x->status <= 299)
        return x->result == CURLE_OK
                   ? 0
                   : bg_error_set(err, -EIO, "the answer from bangerd was cut short (%s)",
                                  curl_easy_strerror(x->result));
    if (x->status == 0 && x->result == CURLE_OK)
        return bg_error_set(err, -EPROTO, "bangerd answered without a status");
    return answer_error(x, err);
}

void bg_cli_xfer_free(struct bg_cli_xfer *x)
{
    if (!x)
        return;
    if (x->multi && x->easy)
        (void)curl_multi_remove_handle(x->multi, x->easy);
    if (x->easy)
        curl_easy_cleanup(x->easy);
    if (x->multi)
        curl_multi_cleanup(x->multi);
    curl_slist_free_all(x->hdrs);
    free(x->out.data);
    free(x->in.data);
    free(x->socket);
    free(x);
}

void bg_cli_xfer_freep(struct bg_cli_xfer **x)
{
    bg_cli_xfer_free(*x);
}
