/* SPDX-License-Identifier: MIT */
/* HTTP Upgrade to bangerd, over its unix socket or a remote's TLS: libcurl connects (its
 * errors, TLS and the pin check), the request and the answer's head are written and read by
 * hand, and the connection then belongs to the protocol switched to (exec frames, a tunnel's
 * raw bytes). */
#pragma once

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "http.h"

/* A connection after "101 Switching Protocols". */
struct bg_cli_upgrade {
    void *curl;                   /* the CURL handle that owns fd; NULL: the pinned connection */
    int fd;                       /* the socket, non-blocking: poll it, move bytes with the two
                                   * calls below (TLS lives inside curl) */
    struct bg_cli_tls_seen seen;  /* the pin check of a remote's connection */
    char errbuf[CURL_ERROR_SIZE]; /* curl's messages: it writes here as long as it lives */
    char *head;                   /* the 101 answer's head, NUL-terminated */
    uint8_t *extra;               /* bytes that came after the head: the stream's first bytes */
    size_t extra_len;             /* bytes in extra */
};

/* POST path with body (borrowed) and "Upgrade: protocol" to the daemon at socket. On 101
 * returns 0 and *ret (free with bg_cli_upgrade_free). Otherwise fails like bg_cli_http_call
 * (the problem's detail in err, -ENOENT for 404, -EEXIST for 409, ...). */
int bg_cli_upgrade_open(const char *socket, const char *path, const char *protocol, json_t *body,
                        struct bg_cli_upgrade **ret, struct bg_error *err);

/* The value of header name in u's 101 answer (case-insensitive, surrounding blanks dropped),
 * copied into buf (size bytes). False when absent or longer than buf. */
bool bg_cli_upgrade_header(const struct bg_cli_upgrade *u, const char *name, char *buf,
                           size_t size);

/* Send all of buf, waiting for room: 0, or -ECONNRESET when the connection broke. */
int bg_cli_upgrade_send(struct bg_cli_upgrade *u, const void *buf, size_t len);

/* What there is to read, without waiting: the byte count (0 at the end of the stream),
 * -EAGAIN when nothing is, -ECONNRESET when the connection broke. TLS may hold decrypted
 * bytes that poll does not see, so read until -EAGAIN before polling again. */
ssize_t bg_cli_upgrade_recv(struct bg_cli_upgrade *u, void *buf, size_t cap);

/* Close the connection. Accepts NULL. */
void bg_cli_upgrade_free(struct bg_cli_upgrade *u);
