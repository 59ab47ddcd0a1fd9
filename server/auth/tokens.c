/* SPDX-License-Identifier: MIT */
/* Token minting and verification over the store, with the hash key of the state directory. */
#include "auth/tokens.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "host/fileio.h"

#define KEY_BYTES crypto_generichash_KEYBYTES
#define TOUCH_INTERVAL_S 60 /* last-used times are this coarse: one write a minute at most */

_Static_assert(crypto_generichash_BYTES == BG_STORE_TOKEN_HASH_BYTES, "stored hash size");

struct bg_auth {
    struct bg_store *store;
    uint8_t key[KEY_BYTES];
};

static int key_load(const char *path, uint8_t key[KEY_BYTES], struct bg_error *err)
{
    bg_autofree char *data = NULL;
    size_t len = 0;
    int r = bg_file_read(path, 4096, &data, &len, err);

    if (r == -ENOENT) {
        randombytes_buf(key, KEY_BYTES);
        return bg_file_write_atomic(path, key, KEY_BYTES, 0600, err);
    }
    if (r < 0)
        return r;
    if (len != KEY_BYTES) {
        sodium_memzero(data, len);
        return bg_error_set(err, -EINVAL,
                            "'%s' holds %zu bytes, not the %d of a token hash key; it was "
                            "damaged (removing it revokes every token)",
                            path, len, KEY_BYTES);
    }
    memcpy(key, data, KEY_BYTES);
    sodium_memzero(data, len);
    return 0;
}

int bg_auth_new(struct bg_store *store, const char *state_dir, struct bg_auth **ret,
                struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/%s", state_dir, BG_AUTH_KEY_FILE);
    struct bg_auth *a = bg_calloc(1, sizeof(*a));
    int r = key_load(path, a->key, err);

    if (r < 0) {
        bg_auth_free(a);
        return bg_error_prefix(err, r, "token hash key");
    }
    a->store = store;
    *ret = a;
    return 0;
}

void bg_auth_free(struct bg_auth *a)
{
    if (!a)
        return;
    sodium_memzero(a->key, sizeof(a->key));
    free(a);
}

/* The keyed hash of the whole token text: it binds the id to the secret. */
static void token_hash(const struct bg_auth *a, const char *text, size_t len,
                       uint8_t out[BG_STORE_TOKEN_HASH_BYTES])
{
    crypto_generichash(out, BG_STORE_TOKEN_HASH_BYTES, (const unsigned char *)text, len, a->key,
                       sizeof(a->key));
}

static void random_id(char id[BG_TOKEN_ID_LEN + 1])
{
    uint8_t raw[BG_TOKEN_ID_LEN];

    randombytes_buf(raw, sizeof(raw));
    for (size_t i = 0; i < BG_TOKEN_ID_LEN; i++)
        id[i] = bg_token_base32_char(raw[i]);
    id[BG_TOKEN_ID_LEN] = '\0';
}

int bg_auth_token_create(struct bg_auth *a, const struct bg_token_request *rq, int64_t now,
                         struct bg_store_token *ret_row, char text[BG_TOKEN_LEN + 1],
                         struct bg_error *err)
{
    struct bg_store_token row = {.scopes = rq->scopes, .created_at = now};
    struct bg_token t;
    int r;

    snprintf(row.name, sizeof(row.name), "%s", rq->name);
    if (rq->expires_in > 0)
        row.expires_at = now + rq->expires_in;
    random_id(t.id);
    randombytes_buf(t.secret, sizeof(t.secret));
    (void)bg_token_format(&t, text);
    sodium_memzero(t.secret, sizeof(t.secret));
    memcpy(row.id, t.id, sizeof(row.id));
    token_hash(a, text, BG_TOKEN_LEN, row.hash);
    if ((r = bg_store_token_insert(a->store, &row, err)) < 0) {
        sodium_memzero(text, BG_TOKEN_LEN + 1);
        return r;
    }
    *ret_row = row;
    return 0;
}

/* Look the id up; an unknown one leaves *ret zeroed (its hash matches nothing). Returns 1
 * when found, 0 when not, or the store's error. */
static int lookup(struct bg_auth *a, const char *id, struct bg_store_token *ret,
                  struct bg_error *err)
{
    struct bg_error e;
    int r = bg_store_token_get(a->store, id, ret, &e);

    if (r == 0)
        return 1;
    *ret = (struct bg_store_token){0};
    if (r == -ENOENT)
        return 0;
    if (err)
        *err = e;
    return r;
}

int bg_auth_token_verify(struct bg_auth *a, const char *s, size_t len, int64_t now,
                         struct bg_store_token *ret_row, struct bg_error *err)
{
    uint8_t hash[BG_STORE_TOKEN_HASH_BYTES];
    struct bg_store_token row;
    struct bg_token t;
    struct bg_error e;

    if (bg_token_parse(s, len, &t, &e) < 0)
        return bg_error_set(err, -EACCES, "not a banger token: %s", e.msg);
    sodium_memzero(t.secret, sizeof(t.secret));
    int found = lookup(a, t.id, &row, err);
    if (found < 0)
        return found;
    /* always hashed and compared, found or not: the time taken says nothing */
    token_hash(a, s, len, hash);
    bool same = sodium_memcmp(hash, row.hash, sizeof(hash)) == 0;
    sodium_memzero(hash, sizeof(hash));
    if (!found)
        return bg_error_set(err, -EACCES, "no token has the id '%s' (never made, or revoked)",
                            t.id);
    if (!same)
        return bg_error_set(err, -EACCES, "the secret of token '%s' is wrong", t.id);
    if (row.expires_at > 0 && now >= row.expires_at) {
        *ret_row = row;
        return bg_error_set(err, -EKEYEXPIRED, "token '%s' expired", t.id);
    }
    if (now - row.last_used_at >= TOUCH_INTERVAL_S) {
        /* a failed touch costs a stale last-used time, never the request */
        (void)bg_store_token_touch(a->store, row.id, now, NULL);
        row.last_used_at = now;
    }
    *ret_row = row;
    return 0;
}
