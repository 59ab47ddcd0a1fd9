/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the parsers of apt's output in image builds: the meta package's
 * Depends field and a line of `apt-get download --print-uris`. What they accept is a package
 * name, version, file name and hash of the shape the build relies on; refusals carry -EINVAL
 * and a message that encodes as JSON. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"
#include "image/debs.h"

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

static int only(const char *s, const char *chars)
{
    return strspn(s, chars) == strlen(s);
}

static void fuzz_depends(const char *text)
{
    static const char pre[] = "linux-image-", suf[] = "-cloud-amd64";
    char *pkg = NULL, *version = NULL;
    struct bg_error err;
    int r = bg_imagebuild_kernel_depends(text, &pkg, &version, &err);

    if (r < 0) {
        check_refusal(r, &err);
        CHECK(pkg == NULL && version == NULL);
        return;
    }
    size_t n = strlen(pkg);
    CHECK(r == 0 && n > strlen(pre) + strlen(suf));
    CHECK(!strncmp(pkg, pre, strlen(pre)) && !strcmp(pkg + n - strlen(suf), suf));
    CHECK(strcmp(pkg, BG_IMAGEBUILD_META_PACKAGE) != 0);
    CHECK(only(pkg, "abcdefghijklmnopqrstuvwxyz0123456789+.-"));
    CHECK(only(version, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.+~:-"));
    free(pkg);
    free(version);
}

static void fuzz_uri(const char *line)
{
    char sha[BG_SHA256_HEX_LEN + 1] = "untouched";
    char *file = NULL;
    uint64_t size = 0;
    struct bg_error err;
    int r = bg_imagebuild_uri_parse(line, &file, &size, sha, &err);

    if (r < 0) {
        check_refusal(r, &err);
        CHECK(file == NULL && !strcmp(sha, "untouched"));
        return;
    }
    size_t n = strlen(file);
    CHECK(r == 0 && n >= 5 && file[0] != '.' && !strcmp(file + n - 4, ".deb"));
    CHECK(strchr(file, '/') == NULL);
    CHECK(size >= 1 && size <= (UINT64_C(1) << 40));
    CHECK(sha[0] == '\0' || (strlen(sha) == BG_SHA256_HEX_LEN && only(sha, "0123456789abcdef")));
    free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bg_autofree char *text = bg_malloc(size + 1);

    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_depends(text);
    fuzz_uri(text);
    return 0;
}
