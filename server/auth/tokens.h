/* SPDX-License-Identifier: MIT */
/* API tokens: minting (libsodium's random bytes), the keyed hash that is all the store keeps of
 * a secret (crypto_generichash under a server key in the state directory), and verification
 * in constant time. */
#pragma once

#include <stdint.h>

#include "banger/error.h"
#include "banger/token.h"
#include "store/store.h"

#define BG_AUTH_KEY_FILE "token.key" /* in the state directory, mode 0600 */

struct bg_auth;

/* The token keeper over store (borrowed, outlives it), with the hash key read from
 * state_dir/token.key, made (32 random bytes, mode 0600) when absent. libsodium must be
 * initialised. -EINVAL when the key file is not exactly 32 bytes, else -errno from the
 * file. */
int bg_auth_new(struct bg_store *store, const char *state_dir, struct bg_auth **ret,
                struct bg_error *err);
/* Accepts NULL. */
void bg_auth_free(struct bg_auth *a);

/* Mint a token for rq at now (seconds): a fresh id and 256-bit secret, stored as its keyed
 * hash. *ret_row gets the stored row, text the token (shown once, never stored). -EEXIST when
 * the name is taken, else the store's errors. */
int bg_auth_token_create(struct bg_auth *a, const struct bg_token_request *rq, int64_t now,
                         struct bg_store_token *ret_row, char text[BG_TOKEN_LEN + 1],
                         struct bg_error *err);

/* Verify the len bytes at s (any bytes) at now: a well-formed token whose id is stored and
 * whose keyed hash equals the stored one (compared in constant time, and computed even when
 * the id is unknown, so an unknown id takes as long as a wrong secret). 0 with *ret_row;
 * -EACCES when malformed, unknown (revoked) or wrong, with err saying which for the log (the
 * HTTP answer never does); -EKEYEXPIRED when it is right but expired (*ret_row is set then
 * too, for its expiry time); -EIO and the like when
 * the store fails. The last-used time is recorded, at most once a minute per token. */
int bg_auth_token_verify(struct bg_auth *a, const char *s, size_t len, int64_t now,
                         struct bg_store_token *ret_row, struct bg_error *err);
