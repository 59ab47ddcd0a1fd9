/* SPDX-License-Identifier: MIT */
/* The TCP listener's gate, the HTTP server's authentication hook: the slow-down of an
 * address that keeps failing, the pinned client certificate (when the operator pinned any),
 * then the bearer token. Every refusal is counted against the address and logged with the
 * count; what the client is told never says whether a token exists. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "auth/throttle.h"
#include "auth/tokens.h"
#include "banger/fingerprint.h"
#include "http/http.h"

/* The slow-down bangerd uses: 5 free failures in a row, then blocks of 2 s doubling to 60 s,
 * failures forgotten after 10 minutes, 4096 addresses remembered. */
extern const struct bg_throttle_limits bg_auth_gate_limits;

struct bg_auth_gate;

/* A gate over auth (borrowed, outlives it). fps: n pinned client certificate fingerprints
 * (copied); with n 0 no certificate is required. limits: the slow-down (copied). */
struct bg_auth_gate *bg_auth_gate_new(struct bg_auth *auth,
                                      const uint8_t (*fps)[BG_FINGERPRINT_BYTES], size_t n,
                                      const struct bg_throttle_limits *limits);
/* Accepts NULL. */
void bg_auth_gate_free(struct bg_auth_gate *g);

/* bg_http_authenticate_fn over gate (a struct bg_auth_gate). */
int bg_auth_gate_check(void *gate, const struct bg_http_credentials *c,
                       struct bg_http_auth_result *ret);
