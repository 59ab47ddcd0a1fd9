/* SPDX-License-Identifier: MIT */
/* Throttle, client certificate, token: the order every TCP request is judged in. */
#include "auth/gate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"

const struct bg_throttle_limits bg_auth_gate_limits = {
    .free_failures = 5,
    .block_min_ms = 2000,
    .block_max_ms = 60000,
    .forget_ms = 600000,
    .slots = 4096,
};

struct bg_auth_gate {
    struct bg_auth *auth;
    uint8_t (*fps)[BG_FINGERPRINT_BYTES];
    size_t n_fps;
    struct bg_throttle *throttle;
};

struct bg_auth_gate *bg_auth_gate_new(struct bg_auth *auth,
                                      const uint8_t (*fps)[BG_FINGERPRINT_BYTES], size_t n,
                                      const struct bg_throttle_limits *limits)
{
    struct bg_auth_gate *g = bg_calloc(1, sizeof(*g));

    g->auth = auth;
    g->n_fps = n;
    if (n) {
        g->fps = bg_calloc(n, sizeof(*g->fps));
        memcpy(g->fps, fps, n * sizeof(*g->fps));
    }
    g->throttle = bg_throttle_new(limits);
    return g;
}

void bg_auth_gate_free(struct bg_auth_gate *g)
{
    if (!g)
        return;
    bg_throttle_free(g->throttle);
    free(g->fps);
    free(g);
}

/* The slow-down's key of a client address: an IPv6 one stands for its /64 (one host can
 * take a whole /64 and a fresh address per try), an IPv4 one (mapped ones too) for itself. */
static const char *throttle_key(const char *peer, char buf[BG_THROTTLE_KEY_MAX])
{
    char inner[INET6_ADDRSTRLEN], net[INET6_ADDRSTRLEN];
    struct in6_addr a;
    size_t len = strlen(peer);

    if (len < 3 || peer[0] != '[' || peer[len - 1] != ']' || len - 2 >= sizeof(inner))
        return peer;
    memcpy(inner, peer + 1, len - 2);
    inner[len - 2] = '\0';
    if (inet_pton(AF_INET6, inner, &a) != 1 || IN6_IS_ADDR_V4MAPPED(&a))
        return peer;
    memset(a.s6_addr + 8, 0, 8);
    if (!inet_ntop(AF_INET6, &a, net, sizeof(net)))
        return peer;
    snprintf(buf, BG_THROTTLE_KEY_MAX, "[%s]/64", net);
    return buf;
}

BG_PRINTF(3, 4)
static void set_detail(struct bg_http_auth_result *ret, enum bg_problem p, const char *fmt, ...)
{
    va_list ap;

    ret->problem = p;
    va_start(ap, fmt);
    (void)bg_utf8_vformat(ret->detail, sizeof(ret->detail), fmt, ap);
    va_end(ap);
}

/* Count a refusal of c's address, log it with the count (why is for the log only), and
 * return -1. */
static int refuse(struct bg_auth_gate *g, const struct bg_http_credentials *c, const char *why)
{
    char buf[BG_THROTTLE_KEY_MAX];
    const char *key = throttle_key(c->peer, buf);
    int64_t block_ms = 0;
    unsigned n = bg_throttle_failed(g->throttle, key, bg_now_ms(), &block_ms);
    const char *from = key == c->peer ? "this address" : key;

    if (block_ms > 0)
        bg_log_warn("authenticate request from %s: %s (failed authentication %u in a row from "
                    "%s; blocked for %lld ms)",
                    c->peer, why, n, from, (long long)block_ms);
    else
        bg_log_warn("authenticate request from %s: %s (failed authentication %u in a row from "
                    "%s)",
                    c->peer, why, n, from);
    return -1;
}

/* The pinned client certificates, when the operator pinned any. */
static int check_cert(struct bg_auth_gate *g, const struct bg_http_credentials *c,
                      struct bg_http_auth_result *ret)
{
    char hex[BG_FINGERPRINT_HEX_MAX];

    if (g->n_fps == 0)
        return 0;
    if (!c->has_cert) {
        set_detail(ret, BG_PROBLEM_CLIENT_CERTIFICATE_REQUIRED,
                   "this listener serves only clients with a certificate its operator pinned "
                   "(tls_client_fingerprints); the connection presented none");
        return refuse(g, c, "no client certificate");
    }
    for (size_t i = 0; i < g->n_fps; i++)
        if (sodium_memcmp(g->fps[i], c->cert_sha256, BG_FINGERPRINT_BYTES) == 0)
            return 0;
    bg_fingerprint_format(c->cert_sha256, hex);
    set_detail(ret, BG_PROBLEM_CLIENT_CERTIFICATE_REQUIRED,
               "the client certificate (SHA-256 %s) is not one this listener's operator pinned "
               "(tls_client_fingerprints)",
               hex);
    return refuse(g, c, "client certificate not pinned");
}

static int check_token(struct bg_auth_gate *g, const struct bg_http_credentials *c,
                       struct bg_http_auth_result *ret)
{
    struct bg_store_token row;
    struct bg_error err;
    char when[BG_TIME_STR_MAX];

    if (!c->token) {
        set_detail(ret, BG_PROBLEM_UNAUTHORIZED, "%s", c->bearer_why);
        return refuse(g, c, c->bearer_why);
    }
    int r = bg_auth_token_verify(g->auth, c->token, strlen(c->token), time(NULL), &row, &err);
    if (r == -EKEYEXPIRED) {
        set_detail(ret, BG_PROBLEM_UNAUTHORIZED, "token '%s' expired at %s; make a new one",
                   row.id[0] ? row.id : "?", bg_time_format(row.expires_at, when));
        return refuse(g, c, err.msg);
    }
    if (r < 0) {
        /* one answer for malformed, unknown, revoked and wrong: nothing about which */
        set_detail(ret, BG_PROBLEM_UNAUTHORIZED,
                   "the bearer token is not valid: it is not a banger token, or it was revoked, "
                   "or its secret is wrong");
        return refuse(g, c, err.msg);
    }
    ret->principal.scopes = row.scopes;
    snprintf(ret->principal.name, sizeof(ret->principal.name), "token %s", row.id);
    return 0;
}

int bg_auth_gate_check(void *gate, const struct bg_http_credentials *c,
                       struct bg_http_auth_result *ret)
{
    struct bg_auth_gate *g = gate;
    char buf[BG_THROTTLE_KEY_MAX];
    const char *key = throttle_key(c->peer, buf);
    int64_t wait = bg_throttle_wait(g->throttle, key, bg_now_ms());

    if (wait > 0) {
        ret->retry_after_s = (unsigned)((wait + 999) / 1000);
        set_detail(ret, BG_PROBLEM_TOO_MANY_AUTH_FAILURES,
                   "too many failed authentications from %s; retry in %u s", key,
                   ret->retry_after_s);
        return -1;
    }
    if (check_cert(g, c, ret) < 0 || check_token(g, c, ret) < 0)
        return -1;
    bg_throttle_succeeded(g->throttle, key);
    return 0;
}
