/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests: error assertions, a group temporary directory, files. */
#pragma once

#include <stddef.h>
#include <string.h>

/* Assert that r and err.code are want and err.msg contains fragment. Needs <cmocka.h>. */
#define assert_err(r, err, want, fragment)                                                         \
    do {                                                                                           \
        assert_int_equal((r), (want));                                                             \
        assert_int_equal((err).code, (want));                                                      \
        if (!strstr((err).msg, (fragment)))                                                        \
            fail_msg("message '%s' lacks '%s'", (err).msg, (fragment));                            \
    } while (0)

/* Group fixtures: setup makes a fresh /tmp/banger-test.XXXXXX, teardown removes it with all
 * it holds. Each returns 0, or -1 when that fails. state is unused. */
int bg_test_dir_setup(void **state);
int bg_test_dir_teardown(void **state);

/* The directory of bg_test_dir_setup (borrowed; valid until teardown). */
const char *bg_test_dir(void);

/* The whole file at path (asserting it opens), with a NUL after its *ret_len bytes; free(). */
void *bg_test_slurp(const char *path, size_t *ret_len);

/* Write len bytes of content to path (asserting it works); returns a copy of path; free(). */
char *bg_test_write_file(const char *path, const void *content, size_t len);

/* SQL that takes a store at BG_STORE_SCHEMA_VERSION back to the columns of version 4: each
 * migration after 4 adds its undo here, so the migration tests need not follow. A test
 * appends what takes it further back and its PRAGMA user_version. */
#define BG_TEST_SCHEMA_BACK_TO_V4                                                                  \
    "ALTER TABLE tokens DROP COLUMN scopes;"                                                       \
    "ALTER TABLE vms DROP COLUMN auto_remove;"                                                     \
    "ALTER TABLE images DROP COLUMN recipe;"                                                       \
    "ALTER TABLE images DROP COLUMN packages;"                                                     \
    "ALTER TABLE operations DROP COLUMN step_done;"                                                \
    "ALTER TABLE operations DROP COLUMN step_total;"                                               \
    "ALTER TABLE operations DROP COLUMN step_unit;"
