/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the guest path of /v1/vms/{name}/files (?path=): bg_files_path_parse
 * on any text. Every refusal must encode (its message goes into a problem+json answer); every
 * accepted path must be what the parser promises: absolute, bounded, plain components, its
 * parent and last component consistent with it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "banger/utf8.h"
#include "files/path.h"

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
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    json_t *s = json_string(err->msg);
    CHECK(s != NULL);
    json_decref(s);
}

static void check_path(const struct bg_files_path *p, bool need_base)
{
    size_t n = strlen(p->path);

    CHECK(p->path[0] == '/' && n <= BG_FILES_PATH_MAX);
    CHECK(n == 1 || p->path[n - 1] != '/');
    CHECK(!strstr(p->path, "//") && !strstr(p->path, "/./") && !strstr(p->path, "/../"));
    CHECK(strcmp(p->path, "/.") && strcmp(p->path, "/.."));
    CHECK(p->base >= p->path && p->base <= p->path + n);
    CHECK(!need_base || (p->base[0] && !strchr(p->base, '/')));
    CHECK(strcmp(p->base, ".") && strcmp(p->base, ".."));
    if (n > 1) {
        /* parent + "/" + base is the path */
        size_t pl = strlen(p->parent);
        CHECK(!strncmp(p->path, p->parent, pl));
        CHECK(p->path[pl == 1 ? 0 : pl] == '/' &&
              !strcmp(p->path + (pl == 1 ? 1 : pl + 1), p->base));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size + 1);
    struct bg_files_path p;
    struct bg_error err;

    memcpy(raw, data, size);
    raw[size] = '\0'; /* a query value is a C string: intake cuts nothing, %00 is refused */
    for (int need_base = 0; need_base < 2; need_base++) {
        int r = bg_files_path_parse(raw, need_base, &p, &err);
        if (r < 0)
            check_refusal(r, &err);
        else
            check_path(&p, need_base);
    }
    free(raw);
    return 0;
}
