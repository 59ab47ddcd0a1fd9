/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the vmlinux extraction: arbitrary bytes as a bzImage (setup header,
 * legacy LZ4 payload, ELF and PVH note checks). It must refuse what it cannot use, with a code
 * of its contract and a message that encodes as JSON. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/utf8.h"
#include "image/vmlinux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A refusal's message goes into a problem's detail: it must be valid UTF-8 that JSON takes. */
static void check_message(int r, const struct bg_error *err)
{
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    json_t *s = json_string(err->msg);
    CHECK(s != NULL);
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *elf = NULL;
    size_t len = 0;
    struct bg_error err;
    int r = bg_vmlinux_from_bzimage(data, size, &elf, &len, &err);

    if (r < 0) {
        CHECK(r == -ENOEXEC || r == -EBADMSG || r == -EFBIG);
        check_message(r, &err);
        CHECK(elf == NULL);
        return 0;
    }
    CHECK(r == 0);
    CHECK(elf != NULL && len >= 64 && len <= BG_VMLINUX_MAX);
    CHECK(memcmp(elf, "\177ELF", 4) == 0);
    free(elf);
    return 0;
}
