/* SPDX-License-Identifier: MIT */
/* Token text (base32 "bgr_<id>_<secret>"), scope names and the token request codec. */
#include "banger/token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/jsonutil.h"
#include "banger/utf8.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static const struct {
    unsigned bit;
    const char *name;
} scope_names[] = {
    {BG_SCOPE_READ, "read"},
    {BG_SCOPE_WRITE, "write"},
    {BG_SCOPE_EXEC, "exec"},
    {BG_SCOPE_ADMIN, "admin"},
};

char bg_token_base32_char(unsigned v)
{
    return alphabet[v & 31];
}

/* The value of base32 character c, or -1. */
static int base32_value(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

bool bg_token_id_valid(const char *id)
{
    size_t n = 0;

    for (; id[n]; n++)
        if (n == BG_TOKEN_ID_LEN || base32_value((unsigned char)id[n]) < 0)
            return false;
    return n == BG_TOKEN_ID_LEN;
}

/* Decode the BG_TOKEN_SECRET_LEN characters at s; -EINVAL when one is outside the alphabet or
 * the last carries bits past the secret's end (a second spelling of the same bytes). */
static int secret_decode(const char *s, uint8_t out[BG_TOKEN_SECRET_BYTES], struct bg_error *err)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;

    for (size_t i = 0; i < BG_TOKEN_SECRET_LEN; i++) {
        int v = base32_value((unsigned char)s[i]);
        if (v < 0)
            return bg_error_set(err, -EINVAL,
                                "the secret of a banger token is base32 in lower case (a-z, 2-7); "
                                "character %zu is not",
                                i + 1);
        acc = (acc << 5) | (uint32_t)v;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return bg_error_set(err, -EINVAL,
                            "the secret of a banger token ends in a character that carries bits "
                            "past its 256; the token was altered");
    return 0;
}

int bg_token_parse(const char *s, size_t len, struct bg_token *ret, struct bg_error *err)
{
    struct bg_token t;
    const size_t id_at = 4, sep_at = 4 + BG_TOKEN_ID_LEN;

    if (len < 4 || memcmp(s, BG_TOKEN_PREFIX, 4))
        return bg_error_set(err, -EINVAL, "a banger token starts with '%s'", BG_TOKEN_PREFIX);
    if (len != BG_TOKEN_LEN)
        return bg_error_set(err, -EINVAL, "a banger token is %d characters long, not %zu",
                            BG_TOKEN_LEN, len);
    if (s[sep_at] != '_')
        return bg_error_set(err, -EINVAL,
                            "a banger token is 'bgr_', a %d-character id, '_' and the secret",
                            BG_TOKEN_ID_LEN);
    for (size_t i = 0; i < BG_TOKEN_ID_LEN; i++) {
        if (base32_value((unsigned char)s[id_at + i]) < 0)
            return bg_error_set(err, -EINVAL,
                                "the id of a banger token is base32 in lower case (a-z, 2-7); "
                                "character %zu is not",
                                i + 1);
        t.id[i] = s[id_at + i];
    }
    t.id[BG_TOKEN_ID_LEN] = '\0';
    int r = secret_decode(s + sep_at + 1, t.secret, err);
    if (r < 0)
        return r;
    *ret = t;
    return 0;
}

char *bg_token_format(const struct bg_token *t, char out[BG_TOKEN_LEN + 1])
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 4 + BG_TOKEN_ID_LEN + 1;

    memcpy(out, BG_TOKEN_PREFIX, 4);
    memcpy(out + 4, t->id, BG_TOKEN_ID_LEN);
    out[4 + BG_TOKEN_ID_LEN] = '_';
    for (size_t i = 0; i < BG_TOKEN_SECRET_BYTES; i++) {
        acc = (acc << 8) | t->secret[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = alphabet[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return out;
}

char *bg_token_mask(const char *id, char out[BG_TOKEN_MASKED_LEN + 1])
{
    snprintf(out, BG_TOKEN_MASKED_LEN + 1, "%s%.*s_****", BG_TOKEN_PREFIX, BG_TOKEN_ID_LEN, id);
    return out;
}

int bg_scope_parse(const char *name, unsigned *ret, struct bg_error *err)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(scope_names); i++)
        if (!strcmp(name, scope_names[i].name)) {
            *ret = scope_names[i].bit;
            return 0;
        }
    return bg_error_set(err, -EINVAL, "'%s' is not a scope (read, write, exec, admin)",
                        BG_QUOTE(name));
}

const char *bg_scope_name(unsigned bit)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(scope_names); i++)
        if (scope_names[i].bit == bit)
            return scope_names[i].name;
    return "?";
}

char *bg_scopes_format(unsigned mask, char buf[BG_SCOPES_TEXT_MAX])
{
    size_t n = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < BG_ARRAY_SIZE(scope_names); i++)
        if (mask & scope_names[i].bit)
            n += (size_t)snprintf(buf + n, BG_SCOPES_TEXT_MAX - n, "%s%s", n ? ", " : "",
                                  scope_names[i].name);
    if (n == 0)
        snprintf(buf, BG_SCOPES_TEXT_MAX, "none");
    return buf;
}

json_t *bg_scopes_to_json(unsigned mask)
{
    json_t *a = json_array();

    for (size_t i = 0; i < BG_ARRAY_SIZE(scope_names); i++)
        if (mask & scope_names[i].bit)
            (void)json_array_append_new(a, json_string(scope_names[i].name));
    return a;
}

static int field_invalid(struct bg_field_error *f, const char *field)
{
    return bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, field);
}

static int decode_scopes(const json_t *body, unsigned *ret, struct bg_field_error *f,
                         struct bg_error *err)
{
    const json_t *a = json_object_get(body, "scopes");
    unsigned mask = 0, bit;
    size_t i;
    json_t *v;

    if (!a) {
        bg_field_error_set(f, BG_PROBLEM_MISSING_FIELD, "scopes");
        return bg_error_set(err, -EINVAL,
                            "field 'scopes' is required: what the token may do, from read, write, "
                            "exec and admin");
    }
    if (!json_is_array(a) || json_array_size(a) == 0) {
        field_invalid(f, "scopes");
        return bg_error_set(err, -EINVAL,
                            "field 'scopes' must be a non-empty array of read, write, exec, admin");
    }
    json_array_foreach (a, i, v) {
        const char *s = json_string_value(v);
        if (!s || strlen(s) != json_string_length(v)) {
            field_invalid(f, "scopes");
            return bg_error_set(err, -EINVAL, "field 'scopes': element %zu is not a string", i);
        }
        if (bg_scope_parse(s, &bit, err) < 0) {
            field_invalid(f, "scopes");
            return bg_error_prefix(err, -EINVAL, "field 'scopes'");
        }
        if (mask & bit) {
            field_invalid(f, "scopes");
            return bg_error_set(err, -EINVAL, "field 'scopes': '%s' is given twice", s);
        }
        mask |= bit;
    }
    *ret = mask;
    return 0;
}

int bg_token_request_decode(const json_t *body, struct bg_token_request *ret,
                            struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"name", "scopes", "expires_in_s", NULL};
    struct bg_token_request r = {0};
    uint64_t expires = 0;
    int n;

    if (bg_json_check_members(body, allowed, f, err) < 0 ||
        bg_json_get_name(body, "name", true, r.name, f, err) < 0 ||
        decode_scopes(body, &r.scopes, f, err) < 0)
        return -EINVAL;
    n = bg_json_get_uint(body, "expires_in_s", false, BG_TOKEN_EXPIRES_MIN, BG_TOKEN_EXPIRES_MAX,
                         &expires, f, err);
    if (n < 0)
        return -EINVAL;
    r.expires_in = (int64_t)expires;
    *ret = r;
    return 0;
}
