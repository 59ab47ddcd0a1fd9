/* SPDX-License-Identifier: MIT */
/* What a TLS listener checks of each request's authority: the bearer credential of its
 * Authorization header (RFC 6750), the client certificate of its TLS session, and whether the
 * principal holds the scope its route needs. Pure but for the certificate. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"

#define BG_HTTP_BEARER_MAX 1024 /* bytes of a bearer credential */

/* The credential of an Authorization header value (NULL: no header): the scheme "Bearer" in
 * any case, one or more spaces, a b64token (RFC 6750 section 2.1: letters, digits,
 * "-._~+/", then any '='), and nothing after but spaces. Returns 0 with *ret and *ret_len
 * pointing into header; -ENOENT without a header, -EINVAL for another scheme or a malformed
 * credential, with err saying which (the credential is never repeated). */
int bg_http_bearer_parse(const char *header, const char **ret, size_t *ret_len,
                         struct bg_error *err);

/* Whether a principal holding granted (enum bg_scope bits) may use a route that needs scope
 * (a bit, BG_SCOPE_ANY, or 0 for routes not served over TCP) of method and path template.
 * Returns 0, or -EPERM with *ret_problem (local_only, insufficient_scope) and err's message. */
int bg_http_scope_check(unsigned scope, unsigned granted, const char *method, const char *path,
                        enum bg_problem *ret_problem, struct bg_error *err);

/* The SHA-256 of the DER of the certificate the client of conn's TLS session presented into
 * out; false when there is none (or conn is not TLS). */
bool bg_http_tls_peer_fingerprint(struct MHD_Connection *conn, uint8_t out[32]);
