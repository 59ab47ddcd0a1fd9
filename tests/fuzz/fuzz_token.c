/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the token and fingerprint parsers (api/src/token.c, fingerprint.c),
 * which take bearer tokens from every TCP request and fingerprints from config and the CLI. A
 * refusal must be a message that JSON takes and never repeats the input; an accepted token
 * must format back to exactly the input (one spelling per token), an accepted fingerprint to
 * 64 lowercase hex digits that parse to the same bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "banger/fingerprint.h"
#include "banger/token.h"
#include "banger/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_refusal(int r, const struct bg_error *err)
{
    CHECK(r == -EINVAL && err->code == r);
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    json_t *j = json_string(err->msg);
    CHECK(j != NULL);
    json_decref(j);
}

/* The n bytes at s are all base32 characters (s is not NUL-terminated). */
static bool base32_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
            return false;
    return true;
}

static void fuzz_token(const char *s, size_t n)
{
    struct bg_token t;
    struct bg_error err = {0};
    char text[BG_TOKEN_LEN + 1];
    int r = bg_token_parse(s, n, &t, &err);

    if (r < 0) {
        check_refusal(r, &err);
        /* a refusal never quotes the input: a secret must not reach a log that way (the
         * messages hold no run of 12 base32 characters of their own) */
        if (n >= 12 && base32_run(s + n - 12, 12))
            CHECK(!memmem(err.msg, strlen(err.msg), s + n - 12, 12));
        return;
    }
    CHECK(r == 0 && n == BG_TOKEN_LEN);
    CHECK(bg_token_id_valid(t.id));
    CHECK(!memcmp(bg_token_format(&t, text), s, n));
}

static void fuzz_fingerprint(const char *s, size_t n)
{
    uint8_t fp[BG_FINGERPRINT_BYTES], again[BG_FINGERPRINT_BYTES];
    char hex[BG_FINGERPRINT_HEX_MAX];
    struct bg_error err = {0};
    int r = bg_fingerprint_parse(s, n, fp, &err);

    if (r < 0) {
        check_refusal(r, &err);
        return;
    }
    bg_fingerprint_format(fp, hex);
    CHECK(strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64);
    CHECK(bg_fingerprint_parse(hex, 64, again, NULL) == 0 && !memcmp(fp, again, sizeof(fp)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_token((const char *)data, size);
    fuzz_fingerprint((const char *)data, size);
    return 0;
}
