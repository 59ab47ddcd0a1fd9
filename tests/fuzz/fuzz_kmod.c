/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the kernel module parsers: the input as a module's ELF (.modinfo
 * "depends="), and, split at its first NUL byte, as modules.dep and modules.builtin text for
 * the load order. Refusals carry a code of the contract and a message that encodes as JSON. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "image/kmod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_message(int r, const struct bg_error *err)
{
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    json_t *s = json_string(err->msg);
    CHECK(s != NULL);
    json_decref(s);
}

static void fuzz_modinfo(const uint8_t *data, size_t size)
{
    char *deps = NULL;
    struct bg_error err;
    int r = bg_imagebuild_modinfo_depends(data, size, &deps, &err);

    if (r < 0) {
        CHECK(r == -ENOEXEC);
        check_message(r, &err);
        CHECK(deps == NULL);
        return;
    }
    CHECK(r == 0 && deps != NULL && strlen(deps) < size);
    free(deps);
}

/* On success: at most BG_IMAGEBUILD_MODULES_MAX paths, NULL-terminated, each once. */
static void fuzz_order(const char *dep, const char *builtin, const char *const *wanted)
{
    char **paths = NULL;
    size_t n = 0;
    struct bg_error err;
    int r = bg_imagebuild_modules_order(dep, builtin, wanted, &paths, &n, &err);

    if (r < 0) {
        CHECK(r == -ENOENT || r == -ELOOP || r == -E2BIG || r == -EINVAL);
        check_message(r, &err);
        CHECK(paths == NULL);
        return;
    }
    CHECK(r == 0 && n <= BG_IMAGEBUILD_MODULES_MAX && paths[n] == NULL);
    for (size_t i = 0; i < n; i++) {
        CHECK(paths[i] != NULL && strstr(dep, paths[i]) != NULL);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(paths[i], paths[j]) != 0);
    }
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const few[] = {"a", "b_c", NULL};
    bg_autofree char *text = bg_malloc(size + 1);
    const char *builtin = NULL;

    fuzz_modinfo(data, size);
    memcpy(text, data, size);
    text[size] = '\0';
    if (strlen(text) < size)
        builtin = text + strlen(text) + 1; /* after the first NUL, up to the next */
    fuzz_order(text, builtin, bg_imagebuild_modules);
    fuzz_order(text, builtin, few);
    return 0;
}
