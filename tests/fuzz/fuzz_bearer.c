/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the Authorization header of TCP requests (server/http/auth.c), then
 * the token parser on what it takes, as a request's authentication does before anything else
 * of the request is read. A refusal must be a message that JSON takes; a credential must lie
 * inside the header, be at most BG_HTTP_BEARER_MAX bytes of b64token characters, and be what
 * follows "Bearer" and spaces. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "banger/token.h"
#include "banger/utf8.h"
#include "http/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_text(const char *msg)
{
    CHECK(bg_utf8_valid(msg, strlen(msg)));
    json_t *j = json_string(msg);
    CHECK(j != NULL);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a header value is a C string: MHD cuts it at a NUL */
    char *header = malloc(size + 1);
    const char *tok = NULL;
    size_t len = 0;
    struct bg_error err = {0};

    if (!header)
        return 0;
    memcpy(header, data, size);
    header[size] = '\0';
    int r = bg_http_bearer_parse(header, &tok, &len, &err);
    if (r < 0) {
        CHECK(r == -EINVAL && err.code == r);
        check_text(err.msg);
        free(header);
        return 0;
    }
    CHECK(r == 0 && len > 0 && len <= BG_HTTP_BEARER_MAX);
    CHECK(tok > header + 6 && tok + len <= header + strlen(header));
    CHECK(!strncasecmp(header, "Bearer ", 7));
    for (size_t i = 0; i < len; i++)
        CHECK(tok[i] &&
              strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~+/=",
                     tok[i]));
    struct bg_token t;
    if (bg_token_parse(tok, len, &t, &err) < 0)
        check_text(err.msg);
    free(header);
    return 0;
}
