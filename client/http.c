/* SPDX-License-Identifier: MIT */
/* libcurl over CURLOPT_UNIX_SOCKET_PATH or TLS 1.3 to a remote (the server's certificate pinned
 * in OpenSSL's verify callback, before anything is sent); turns problem+json answers into
 * struct bg_error. */
#include "http.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
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
    int line_result;         /* first negative line_fn result */
    FILE *upload;            /* the body to send from here, or NULL */
    uint64_t upload_size;    /* its bytes */
    const char *upload_type; /* its "Content-Type: ..." header */
};

/* The remote every request goes to, or NULL for the unix socket (main sets it once). */
static const struct bg_cli_remote *current;

void bg_cli_remote_done(struct bg_cli_remote *r)
{
    if (!r)
        return;
    if (r->token)
        OPENSSL_cleanse(r->token, strlen(r->token));
    free(r->name);
    free(r->url);
    free(r->token);
    free(r->client_cert);
    free(r->client_key);
    memset(r, 0, sizeof(*r));
}

void bg_cli_http_use_remote(const struct bg_cli_remote *r)
{
    current = r;
}

const struct bg_cli_remote *bg_cli_http_remote(void)
{
    return current;
}

/* OpenSSL's verify callback, per certificate of the chain. Only the leaf counts: with a pin it
 * must hash to it (and then nothing else about the chain matters, self-signed included);
 * without one (a first contact), it is recorded and accepted. */
static int verify_leaf(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct bg_cli_tls_seen *seen = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    unsigned n = BG_FINGERPRINT_BYTES;
    (void)ok;

    if (!seen || !cert)
        return 0;
    if (X509_STORE_CTX_get_error_depth(store) != 0)
        return 1;
    if (!X509_digest(cert, EVP_sha256(), seen->fingerprint, &n) || n != BG_FINGERPRINT_BYTES)
        return 0;
    seen->any = true;
    if (seen->pin && CRYPTO_memcmp(seen->fingerprint, seen->pin, BG_FINGERPRINT_BYTES)) {
        seen->mismatch = true;
        return 0;
    }
    X509_STORE_CTX_set_error(store, X509_V_OK);
    return 1;
}

static CURLcode ssl_ctx_setup(CURL *c, void *ssl_ctx, void *userp)
{
    (void)c;
    SSL_CTX_set_app_data(ssl_ctx, userp);
    SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, verify_leaf);
    return CURLE_OK;
}

static bool curl_tls_is_openssl(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    return v && v->ssl_version && !strncmp(v->ssl_version, "OpenSSL", 7);
}

/* TLS 1.3 to r, with its pin checked into seen (record_only: a first contact). */
static int tls_setup(CURL *c, const struct bg_cli_remote *r, bool record_only,
                     struct bg_cli_tls_seen *seen, struct bg_error *err)
{
    if (!curl_tls_is_openssl())
        return bg_error_set(err, -ENOTSUP,
                            "this banger's libcurl does not use OpenSSL, which pinning a "
                            "remote's certificate needs");
    (void)curl_easy_setopt(c, CURLOPT_SSLVERSION,
                           (long)(CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_DEFAULT));
    /* a resumed session shows no certificate, so the pin would go unchecked */
    (void)curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    if (r->client_cert) {
        (void)curl_easy_setopt(c, CURLOPT_SSLCERT, r->client_cert);
        (void)curl_easy_setopt(c, CURLOPT_SSLKEY, r->client_key);
    }
    *seen = (struct bg_cli_tls_seen){.pin = r->pinned ? r->fingerprint : NULL};
    if (!r->pinned && !record_only)
        return 0; /* the system's CAs and the host name decide, as for any https URL */
    /* the pin replaces the CA and host name checks: the fingerprint is the identity */
    (void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    (void)curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    (void)curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_setup);
    (void)curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, seen);
    return 0;
}

static void curl_cleanupp(CURL **c)
{
    if (*c)
        curl_easy_cleanup(*c);
}

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
    int code = os_errno ? -(int)os_errno : -ECONNREFUSED;

    if (current && current->name[0])
        return bg_error_set(err, code,
                            "cannot reach bangerd at %s (%s); check remote '%s' (banger remote "
                            "ls) and that its daemon listens there (listen_tcp)",
                            socket, reason, current->name);
    if (current)
        return bg_error_set(err, code,
                            "cannot reach bangerd at %s (%s); check BANGER_HOST and that the "
                            "daemon listens there (listen_tcp)",
                            socket, reason);
    return bg_error_set(err, code,
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
 * new one, which *ret_owned gets too: the caller cleans that one up. */
static CURL *easy_for(const char *socket, CURL **ret_owned)
{
    *ret_owned = NULL;
    if (!pin.easy || strcmp(pin.socket, socket))
        return *ret_owned = curl_easy_init();
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

void bg_cli_http_setup(CURL *c, char *errbuf)
{
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
}

/* The pinned certificate was not the one presented: say so with both, and what to do. */
static int changed_certificate(const char *where, const struct bg_cli_tls_seen *seen,
                               struct bg_error *err)
{
    char pinned[BG_FINGERPRINT_HEX_MAX], now[BG_FINGERPRINT_HEX_MAX];

    bg_fingerprint_format(seen->pin, pinned);
    bg_fingerprint_format(seen->fingerprint, now);
    if (current && current->name[0])
        return bg_error_set(err, -EPERM,
                            "the certificate of remote '%s' (%s) has changed: pinned SHA-256 %s, "
                            "presented %s. Nothing was sent. If its certificate was replaced on "
                            "purpose, run 'banger remote rm %s' and add it again; otherwise "
                            "someone may be intercepting the connection",
                            current->name, where, pinned, now, current->name);
    return bg_error_set(err, -EPERM,
                        "the certificate of %s is not the pinned one: expected SHA-256 %s, "
                        "presented %s. Nothing was sent",
                        where, pinned, now);
}

int bg_cli_http_transport_error(CURL *c, CURLcode rc, const char *socket, const char *errbuf,
                                const struct bg_cli_tls_seen *seen, struct bg_error *err)
{
    long os_errno = 0;
    const char *reason = errbuf[0] ? errbuf : curl_easy_strerror(rc);

    if (seen && seen->mismatch)
        return changed_certificate(socket, seen, err);
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

int bg_cli_http_target(CURL *c, const char *socket, const char *path, struct bg_cli_tls_seen *seen,
                       struct curl_slist **hdrs, char **ret_url, struct bg_error *err)
{
    *seen = (struct bg_cli_tls_seen){0};
    if (!current) {
        (void)curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, socket);
        *ret_url = bg_asprintf("http://localhost%s", path);
        (void)curl_easy_setopt(c, CURLOPT_URL, *ret_url);
        return 0;
    }
    int r = tls_setup(c, current, false, seen, err);
    if (r < 0)
        return r;
    bg_autofree char *auth = bg_asprintf("Authorization: Bearer %s", current->token);
    add_header(hdrs, auth);
    OPENSSL_cleanse(auth, strlen(auth));
    *ret_url = bg_asprintf("%s%s", current->url, path);
    (void)curl_easy_setopt(c, CURLOPT_URL, *ret_url);
    return 0;
}

int bg_cli_http_probe(const struct bg_cli_remote *r, struct bg_cli_tls_seen *ret_seen,
                      struct bg_error *err)
{
    bg_auto(curl_cleanupp) CURL *c = curl_easy_init();
    char errbuf[CURL_ERROR_SIZE] = "";
    const struct bg_cli_remote *saved = current;
    int ret;

    if (!c)
        return bg_error_set(err, -ENOMEM, "cannot prepare the connection to %s", r->url);
    if ((ret = tls_setup(c, r, true, ret_seen, err)) < 0)
        return ret;
    (void)curl_easy_setopt(c, CURLOPT_URL, r->url);
    (void)curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    (void)curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    (void)curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    current = r; /* the messages name this remote */
    ret = rc == CURLE_OK ? 0 : bg_cli_http_transport_error(c, rc, r->url, errbuf, ret_seen, err);
    current = saved;
    if (ret == 0 && !ret_seen->any)
        ret = bg_error_set(err, -EPROTO, "%s showed no certificate", r->url);
    return ret;
}

/* Run one transfer; the body lands in t (or goes to its line callback). */
static int perform(const char *socket, const char *method, const char *path, json_t *body,
                   struct transfer *t, long *ret_status, struct bg_error *err)
{
    bg_auto(curl_cleanupp) CURL *owned = NULL;
    CURL *c = easy_for(socket, &owned);
    bg_auto(slist_freep) struct curl_slist *hdrs = NULL;
    bg_autofree char *url = NULL;
    bg_autofree char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    struct bg_cli_tls_seen seen;
    int r;

    if (!c || (body && !payload))
        return bg_error_set(err, -ENOMEM, "cannot prepare the request to bangerd");
    t->curl = c;
    if ((r = bg_cli_http_target(c, socket, path, &seen, &hdrs, &url, err)) < 0)
        return r;
    bg_cli_http_setup(c, errbuf);
    add_header(&hdrs, "Accept: application/json, application/problem+json");
    add_header(&hdrs, "Expect:");
    if (payload) {
        add_header(&hdrs, "Content-Type: application/json");
        (void)curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    }
    if (t->upload) {
        add_header(&hdrs, t->upload_type);
        (void)curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        (void)curl_easy_setopt(c, CURLOPT_READDATA, t->upload);
        (void)curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)t->upload_size);
    }
    (void)curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    (void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    (void)curl_easy_setopt(c, CURLOPT_TIMEOUT, t->line_fn ? 0L : REQUEST_TIMEOUT_S);
    (void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    (void)curl_easy_setopt(c, CURLOPT_WRITEDATA, t);

    CURLcode rc = bg_cli_http_perform(c);
    if (!owned) /* the pinned handle outlives errbuf: curl must not write there later */
        (void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (rc == CURLE_OK && streaming_now(t))
        (void)deliver_lines(t, true);
    if (t->line_result < 0)
        return t->line_result;
    if (t->too_big)
        return bg_error_set(err, -EMSGSIZE, "the answer from bangerd is too large");
    if (rc != CURLE_OK)
        return bg_cli_http_transport_error(c, rc, socket, errbuf, &seen, err);
    long connects = 0; /* 0: the pinned handle's kept-alive connection, checked when made */
    (void)curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    if (current && current->pinned && connects > 0 && !seen.any)
        return bg_error_set(err, -EPROTO, "%s showed no certificate to check", socket);
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
    case 401:
        return -EACCES;
    case 403:
        return -EPERM;
    case 404:
        return -ENOENT;
    case 409:
        return -EEXIST;
    case 410:
        return -ESTALE;
    case 429:
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

/* A finished transfer as bg_cli_http_call answers it. */
static int call_result(const struct transfer *t, long status, json_t **ret_json,
                       struct bg_error *err)
{
    json_t *j = NULL;
    int r = parse_body(t, &j, err);

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

int bg_cli_http_call(const char *socket, const char *method, const char *path, json_t *body,
                     json_t **ret_json, struct bg_error *err)
{
    struct transfer t = {0};
    bg_autofree char *data = NULL;
    long status = 0;
    int r = perform(socket, method, path, body, &t, &status, err);

    data = t.data;
    return r < 0 ? r : call_result(&t, status, ret_json, err);
}

int bg_cli_http_upload(const char *socket, const char *method, const char *path,
                       const char *content_type, FILE *f, uint64_t size, json_t **ret_json,
                       struct bg_error *err)
{
    bg_autofree char *type = bg_asprintf("Content-Type: %s", content_type);
    struct transfer t = {.upload = f, .upload_size = size, .upload_type = type};
    bg_autofree char *data = NULL;
    long status = 0;
    int r = perform(socket, method, path, NULL, &t, &status, err);

    data = t.data;
    return r < 0 ? r : call_result(&t, status, ret_json, err);
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
