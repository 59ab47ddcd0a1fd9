/* SPDX-License-Identifier: MIT */
/* Bearer credentials, route scopes and client certificates of TLS requests. */
#include "http/auth.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <strings.h>

#include "banger/token.h"
#include "banger/utf8.h"

static bool b64token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~+/", c));
}

int bg_http_bearer_parse(const char *header, const char **ret, size_t *ret_len,
                         struct bg_error *err)
{
    const char *p;
    size_t n = 0;

    if (!header)
        return bg_error_set(err, -ENOENT,
                            "this request needs a token: send 'Authorization: Bearer bgr_...'");
    if (strncasecmp(header, "Bearer", 6) || header[6] != ' ')
        return bg_error_set(err, -EINVAL,
                            "the Authorization header must use the Bearer scheme: "
                            "'Authorization: Bearer bgr_...'");
    p = header + 6;
    p += strspn(p, " ");
    while (b64token_char((unsigned char)p[n]))
        n++;
    while (p[n] == '=')
        n++;
    if (n == 0)
        return bg_error_set(err, -EINVAL, "the Authorization header has no token after 'Bearer'");
    if (p[n + strspn(p + n, " ")] != '\0')
        return bg_error_set(err, -EINVAL,
                            "the bearer token holds a character a token cannot hold, or "
                            "something follows it");
    if (n > BG_HTTP_BEARER_MAX)
        return bg_error_set(err, -EINVAL, "the bearer token is over %d bytes", BG_HTTP_BEARER_MAX);
    *ret = p;
    *ret_len = n;
    return 0;
}

int bg_http_scope_check(unsigned scope, unsigned granted, const char *method, const char *path,
                        enum bg_problem *ret_problem, struct bg_error *err)
{
    char have[BG_SCOPES_TEXT_MAX];

    if (scope == 0) {
        *ret_problem = BG_PROBLEM_LOCAL_ONLY;
        return bg_error_set(err, -EPERM, "%s %s is served on the unix socket only, not over TCP",
                            method, BG_QUOTE(path));
    }
    if (scope == BG_SCOPE_ANY || (granted & scope) == scope)
        return 0;
    *ret_problem = BG_PROBLEM_INSUFFICIENT_SCOPE;
    return bg_error_set(err, -EPERM, "%s %s needs a token with the '%s' scope; this one has %s",
                        method, BG_QUOTE(path), bg_scope_name(scope),
                        bg_scopes_format(granted, have));
}

bool bg_http_tls_peer_fingerprint(struct MHD_Connection *conn, uint8_t out[32])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    unsigned n = 0;

    if (!ci || !ci->tls_session)
        return false;
    const gnutls_datum_t *certs = gnutls_certificate_get_peers(ci->tls_session, &n);
    if (!certs || n == 0)
        return false;
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, certs[0].data, certs[0].size, out) == 0;
}
