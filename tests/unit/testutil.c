/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests; linked into every tests/unit binary. */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "banger/alloc.h"

static char test_dir[] = "/tmp/banger-test.XXXXXX";

int bg_test_dir_setup(void **state)
{
    (void)state;
    return mkdtemp(test_dir) ? 0 : -1;
}

int bg_test_dir_teardown(void **state)
{
    (void)state;
    bg_autofree char *cmd = bg_asprintf("rm -rf '%s'", test_dir);
    return system(cmd) == 0 ? 0 : -1;
}

const char *bg_test_dir(void)
{
    return test_dir;
}

void *bg_test_slurp(const char *path, size_t *ret_len)
{
    FILE *fp = fopen(path, "rbe");
    size_t len = 0, cap = 4096, n;
    char *buf = bg_malloc(cap + 1);

    assert_non_null(fp);
    /* the buffer doubles: growing it a chunk at a time copies a 65 MiB image quadratically,
     * which under ASan (every realloc copies) takes minutes */
    while ((n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap)
            buf = bg_realloc(buf, (cap *= 2) + 1);
    }
    fclose(fp);
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

char *bg_test_write_file(const char *path, const void *content, size_t len)
{
    FILE *f = fopen(path, "we");

    assert_non_null(f);
    assert_int_equal(fwrite(content, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return bg_strdup(path);
}
