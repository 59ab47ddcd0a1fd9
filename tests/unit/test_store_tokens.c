/* SPDX-License-Identifier: MIT */
/* Unit tests for server/store/store-tokens.c: token rows, their refusals, rows damaged in the
 * file, and the version 5 migration that gives tokens their scopes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "banger/alloc.h"
#include "store/store.h"
#include "testutil.h"

struct fixture {
    char path[256];
    struct bg_store *s;
};

static int setup(void **state)
{
    struct fixture *f = bg_calloc(1, sizeof(*f));
    struct bg_error err = {0};
    static int n;

    snprintf(f->path, sizeof(f->path), "%s/tokens%d.db", bg_test_dir(), n++);
    if (bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bg_store_close(f->s);
    free(f);
    return 0;
}

static struct bg_store_token token(const char *id, const char *name)
{
    struct bg_store_token t = {.scopes = BG_SCOPE_READ, .created_at = 100};

    snprintf(t.id, sizeof(t.id), "%s", id);
    snprintf(t.name, sizeof(t.name), "%s", name);
    memset(t.hash, 0xab, sizeof(t.hash));
    return t;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_rows(void **state)
{
    struct fixture *f = *state;
    struct bg_store_token a = token("aaaaaaaaaaaa", "zeta"), b = token("bbbbbbbbbbbb", "alpha");
    struct bg_store_token got, *list = NULL;
    struct bg_error err = {0};
    size_t n = 0;

    a.expires_at = 500;
    a.scopes = BG_SCOPE_ALL;
    assert_int_equal(bg_store_token_insert(f->s, &a, &err), 0);
    assert_int_equal(bg_store_token_insert(f->s, &b, &err), 0);
    assert_int_equal(bg_store_token_get(f->s, "aaaaaaaaaaaa", &got, &err), 0);
    assert_string_equal(got.name, "zeta");
    assert_memory_equal(got.hash, a.hash, sizeof(a.hash));
    assert_int_equal(got.scopes, BG_SCOPE_ALL);
    assert_int_equal(got.expires_at, 500);
    assert_int_equal(got.last_used_at, 0);
    assert_int_equal(bg_store_token_touch(f->s, "aaaaaaaaaaaa", 300, &err), 0);
    assert_int_equal(bg_store_token_get(f->s, "aaaaaaaaaaaa", &got, &err), 0);
    assert_int_equal(got.last_used_at, 300);
    assert_int_equal(bg_store_token_list(f->s, &list, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].name, "alpha"); /* by name */
    assert_string_equal(list[1].name, "zeta");
    free(list);
    assert_int_equal(bg_store_token_delete(f->s, "bbbbbbbbbbbb", &err), 0);
    assert_err(bg_store_token_get(f->s, "bbbbbbbbbbbb", &got, &err), err, -ENOENT,
               "token 'bbbbbbbbbbbb' not found");
    assert_err(bg_store_token_delete(f->s, "bbbbbbbbbbbb", &err), err, -ENOENT, "not found");
    assert_err(bg_store_token_touch(f->s, "bbbbbbbbbbbb", 1, &err), err, -ENOENT, "not found");
}

static void test_insert_refusals(void **state)
{
    struct fixture *f = *state;
    struct bg_store_token a = token("aaaaaaaaaaaa", "ci");
    struct bg_store_token same_name = token("cccccccccccc", "ci");
    struct bg_error err = {0};

    assert_int_equal(bg_store_token_insert(f->s, &a, &err), 0);
    assert_err(bg_store_token_insert(f->s, &a, &err), err, -EEXIST, "already exists");
    assert_err(bg_store_token_insert(f->s, &same_name, &err), err, -EEXIST,
               "a token named 'ci' already exists");
}

/* A row damaged in the file is refused as a bad row, never trusted. */
static void test_damaged_rows(void **state)
{
    struct fixture *f = *state;
    struct bg_store_token a = token("aaaaaaaaaaaa", "ci"), got, *list = NULL;
    struct bg_error err = {0};
    size_t n;

    assert_int_equal(bg_store_token_insert(f->s, &a, &err), 0);
    raw_exec(f->path, "UPDATE tokens SET hash = x'00'");
    assert_err(bg_store_token_get(f->s, "aaaaaaaaaaaa", &got, &err), err, -EBADMSG, "'hash'");
    raw_exec(f->path, "UPDATE tokens SET hash = zeroblob(32), scopes = 16");
    assert_err(bg_store_token_get(f->s, "aaaaaaaaaaaa", &got, &err), err, -EBADMSG, "'scopes'");
    raw_exec(f->path, "UPDATE tokens SET scopes = 1, id = 'Not-An-Id'");
    assert_err(bg_store_token_list(f->s, &list, &n, &err), err, -EBADMSG, "'id'");
}

/* Version 5 adds the scopes of a token to a version 4 file. */
static void test_migrate_v4(void **state)
{
    struct fixture *f = *state;
    struct bg_error err = {0};
    struct bg_store_token t = token("aaaaaaaaaaaa", "ci");

    bg_store_close(f->s);
    f->s = NULL;
    raw_exec(f->path, BG_TEST_SCHEMA_BACK_TO_V4 "PRAGMA user_version = 4");
    assert_int_equal(bg_store_open(f->path, BG_STORE_READ_WRITE, &f->s, &err), 0);
    assert_int_equal(bg_store_schema_version(f->s), BG_STORE_SCHEMA_VERSION);
    t.scopes = BG_SCOPE_EXEC;
    assert_int_equal(bg_store_token_insert(f->s, &t, &err), 0);
    assert_int_equal(bg_store_token_get(f->s, t.id, &t, &err), 0);
    assert_int_equal(t.scopes, BG_SCOPE_EXEC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_insert_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v4, setup, teardown),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
