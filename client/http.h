/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 to bangerd with libcurl, over its unix socket or, for a remote daemon, over TLS 1.3
 * with a bearer token and the server's certificate pinned by fingerprint: JSON calls, uploads
 * and line streams. */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "banger/error.h"
#include "banger/fingerprint.h"

#define BG_CLI_HTTP_BODY_MAX (64u << 20) /* largest answer the CLI accepts */
#define BG_CLI_HTTP_LINE_MAX (1u << 20)  /* longest line of a stream */

/* A remote daemon: where it is, the token for it, and what its certificate must be. Strings
 * owned (bg_cli_remote_done). */
struct bg_cli_remote {
    char *name;                                /* the remote's name; "" for BANGER_HOST */
    char *url;                                 /* "https://HOST[:PORT]", no trailing '/' */
    char *token;                               /* the bearer token */
    bool pinned;                               /* the certificate must hash to fingerprint; else
                                                * it must verify against the system's CAs */
    uint8_t fingerprint[BG_FINGERPRINT_BYTES]; /* SHA-256 of its DER */
    char *client_cert, *client_key;            /* a client certificate, or NULL */
};

/* Free what r owns (the token wiped) and zero it. Accepts a zeroed r. */
void bg_cli_remote_done(struct bg_cli_remote *r);

/* From now on every request of this process goes to r (borrowed until the process ends, or
 * NULL for the unix socket again); the socket arguments below then only name it in
 * messages (main passes r->url). */
void bg_cli_http_use_remote(const struct bg_cli_remote *r);
/* The remote in use, or NULL. */
const struct bg_cli_remote *bg_cli_http_remote(void);

/* What one TLS connection showed of the server's certificate. */
struct bg_cli_tls_seen {
    const uint8_t *pin; /* what it must hash to (set by bg_cli_http_target), NULL: any */
    bool any;           /* a leaf certificate was seen */
    bool mismatch;      /* ... and it was not the pinned one */
    uint8_t fingerprint[BG_FINGERPRINT_BYTES]; /* its SHA-256, when any */
};

/* Point c (a new easy handle) at path on the endpoint in use: the unix socket at socket, or
 * the remote over TLS 1.3 with its token and client certificate, its pin checked (what was
 * seen lands in *seen, which must live until the transfer ends; a first contact of a remote
 * without pinned records the fingerprint, accepting any). Adds the Authorization header to
 * *hdrs. Fails with -ENOTSUP when this libcurl's TLS is not OpenSSL (pinning needs it).
 * *ret_url is the caller's to free. */
int bg_cli_http_target(CURL *c, const char *socket, const char *path, struct bg_cli_tls_seen *seen,
                       struct curl_slist **hdrs, char **ret_url, struct bg_error *err);

/* The error of a failed transfer on c: the pin check's refusal of a changed certificate (what
 * to do, both fingerprints), "cannot reach", a time-out, or the transport's reason. */
int bg_cli_http_transport_error(CURL *c, CURLcode rc, const char *socket, const char *errbuf,
                                const struct bg_cli_tls_seen *seen, struct bg_error *err);

/* A TLS handshake only with r (nothing is sent), into *ret_seen: what a first contact shows of
 * the server's certificate before anything is trusted. */
int bg_cli_http_probe(const struct bg_cli_remote *r, struct bg_cli_tls_seen *ret_seen,
                      struct bg_error *err);

/* Called with each complete line of a stream, without its '\n' (line is NUL-terminated).
 * A negative return stops the stream and becomes the stream's result. */
typedef int (*bg_cli_http_line_fn)(const char *line, size_t len, void *userdata);

/* Send one request to the daemon at socket: method, path ("/v1/vms"), body (borrowed, NULL
 * for none). On any HTTP answer returns 0 with *ret_status and *ret_json (new reference,
 * NULL when the body was empty). Fails with a negative errno and err set when the daemon
 * cannot be reached ("cannot reach bangerd at PATH (reason); ..."), the transfer breaks,
 * or the body is not JSON (-EPROTO). */
int bg_cli_http_request(const char *socket, const char *method, const char *path, json_t *body,
                        long *ret_status, json_t **ret_json, struct bg_error *err);

/* bg_cli_http_request expecting success: a 2xx answer gives 0 and *ret_json (may be NULL
 * for 204; ret_json itself may be NULL to drop it). A problem+json answer fails with its
 * "detail" in err and a code from the status (400 -EINVAL, 401 -EACCES, 403 -EPERM,
 * 404 -ENOENT, 409 -EEXIST, 410 -ESTALE, 429 and 503 -EAGAIN, else -EIO). */
int bg_cli_http_call(const char *socket, const char *method, const char *path, json_t *body,
                     json_t **ret_json, struct bg_error *err);

/* GET path and pass each line of a 200 answer to fn as it arrives, with no overall
 * timeout. Returns 0 when the daemon ends the stream, fn's negative result, or the
 * errors of bg_cli_http_call. */
int bg_cli_http_stream(const char *socket, const char *path, bg_cli_http_line_fn fn, void *userdata,
                       struct bg_error *err);

/* PUT (or method) path with the size bytes of f (from its current offset) as the body, of
 * content_type; otherwise as bg_cli_http_call. */
int bg_cli_http_upload(const char *socket, const char *method, const char *path,
                       const char *content_type, FILE *f, uint64_t size, json_t **ret_json,
                       struct bg_error *err);

/* The negative errno for an HTTP error status, as bg_cli_http_call maps it. */
int bg_cli_http_status_errno(long status);

/* Set err to "cannot reach bangerd at socket (reason); ..." with -os_errno (-ECONNREFUSED when
 * os_errno is 0) and return that code. */
int bg_cli_http_unreachable(const char *socket, long os_errno, const char *reason,
                            struct bg_error *err);

/* s percent-encoded for use as one path segment or query value; caller frees. */
char *bg_cli_http_escape(const char *s);

/* Set what every transfer to the daemon shares on c (its endpoint is bg_cli_http_target's):
 * the connect timeout, no signals, and errbuf (CURL_ERROR_SIZE bytes) for curl's messages. */
void bg_cli_http_setup(CURL *c, char *errbuf);

/* curl_easy_perform, except that a unix socket whose accept queue is full (curl: "Couldn't
 * connect", with no errno, or EAGAIN) is tried again, backing off, until the connect timeout:
 * bangerd drains the queue as it frees connections, and nothing was sent yet. */
CURLcode bg_cli_http_perform(CURL *c);

/* Turn a problem answer (status, its parsed body j, may be NULL) into err: its detail, with a
 * code from the status as bg_cli_http_call maps it. Returns that code. */
int bg_cli_http_problem_error(long status, json_t *j, struct bg_error *err);

/* From now until bg_cli_http_unpin, the JSON calls and line streams of this process to socket
 * share one kept-alive connection (made by the first of them), and an exec stream upgrades that
 * same connection (bg_cli_http_pinned_fd): a daemon that ties something to the connection that
 * made it (an auto-remove VM) then sees one client. An upgraded stream ends the connection:
 * unpin after it. Returns 0 or -ENOMEM. */
int bg_cli_http_pin(const char *socket, struct bg_error *err);
/* Close the pinned connection, if any; requests open their own again. */
void bg_cli_http_unpin(void);
/* The pinned connection's socket to socket, once a request made it and while libcurl keeps it
 * open (borrowed: it closes with bg_cli_http_unpin), or -1. */
int bg_cli_http_pinned_fd(const char *socket);
