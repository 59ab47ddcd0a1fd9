/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the CLI's remotes file (client/remote.c): whatever the file holds, a
 * refusal is a message that JSON takes; what is accepted has valid
 * names, https URLs and tokens, and formats back to a file that parses to the same remotes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "banger/token.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "remote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_same(const struct bg_cli_remote *a, const struct bg_cli_remote *b)
{
    CHECK(!strcmp(a->name, b->name) && !strcmp(a->url, b->url) && !strcmp(a->token, b->token));
    CHECK(a->pinned == b->pinned &&
          !memcmp(a->fingerprint, b->fingerprint, sizeof(a->fingerprint)));
    CHECK(!a->client_cert == !b->client_cert);
    CHECK(!a->client_cert || !strcmp(a->client_cert, b->client_cert));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bg_cli_remotes rs = {0}, back = {0};
    struct bg_error err = {0};
    int r = bg_cli_remotes_parse((const char *)data, size, &rs, &err);

    if (r < 0) {
        CHECK(r == -EINVAL && err.code == r && rs.n == 0);
        CHECK(bg_utf8_valid(err.msg, strlen(err.msg)));
        json_t *j = json_string(err.msg);
        CHECK(j != NULL);
        json_decref(j);
        return 0;
    }
    CHECK(rs.n <= BG_CLI_REMOTES_MAX);
    for (size_t i = 0; i < rs.n; i++) {
        struct bg_token t;
        CHECK(bg_name_validate(rs.list[i].name, NULL) == 0);
        CHECK(!strncmp(rs.list[i].url, "https://", 8));
        CHECK(bg_token_parse(rs.list[i].token, strlen(rs.list[i].token), &t, NULL) == 0);
        CHECK(!rs.list[i].client_cert == !rs.list[i].client_key);
    }
    char *text = bg_cli_remotes_format(&rs);
    CHECK(bg_cli_remotes_parse(text, strlen(text), &back, &err) == 0 && back.n == rs.n);
    for (size_t i = 0; i < rs.n; i++)
        check_same(&rs.list[i], bg_cli_remotes_find(&back, rs.list[i].name));
    free(text);
    bg_cli_remotes_done(&back);
    bg_cli_remotes_done(&rs);
    return 0;
}
