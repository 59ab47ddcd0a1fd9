/* SPDX-License-Identifier: MIT */
/* Unit tests for server/auth/: the slow-down table, tokens over a real store (minting,
 * verification, expiry, revocation, the key file), the TLS identity (made, kept, the
 * operator's, a key that does not match) and the gate that puts them together. */
#include <errno.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/cert.h"
#include "auth/gate.h"
#include "auth/throttle.h"
#include "auth/tokens.h"
#include "banger/alloc.h"
#include "banger/token.h"
#include "host/fileio.h"
#include "testutil.h"

static const struct bg_throttle_limits limits = {.free_failures = 3,
                                                 .block_min_ms = 1000,
                                                 .block_max_ms = 8000,
                                                 .forget_ms = 60000,
                                                 .slots = 16};

static void test_throttle_blocks_and_forgives(void **state)
{
    (void)state;
    struct bg_throttle *t = bg_throttle_new(&limits);
    int64_t block = -1;

    assert_int_equal(bg_throttle_wait(t, "10.0.0.1", 0), 0);
    for (unsigned i = 1; i <= 3; i++) {
        assert_int_equal(bg_throttle_failed(t, "10.0.0.1", i, &block), i);
        assert_int_equal(block, 0);
        assert_int_equal(bg_throttle_wait(t, "10.0.0.1", i), 0);
    }
    /* the fourth failure in a row blocks 1 s, each further one twice as long, up to 8 s */
    assert_int_equal(bg_throttle_failed(t, "10.0.0.1", 10, &block), 4);
    assert_int_equal(block, 1000);
    assert_int_equal(bg_throttle_wait(t, "10.0.0.1", 10), 1000);
    assert_int_equal(bg_throttle_wait(t, "10.0.0.1", 510), 500);
    assert_int_equal(bg_throttle_wait(t, "10.0.0.2", 510), 0); /* another address */
    assert_int_equal(bg_throttle_wait(t, "10.0.0.1", 1010), 0);
    int64_t want[] = {2000, 4000, 8000, 8000, 8000};
    for (size_t i = 0; i < BG_ARRAY_SIZE(want); i++) {
        (void)bg_throttle_failed(t, "10.0.0.1", 2000 + (int64_t)i, &block);
        assert_int_equal(block, want[i]);
    }
    /* a success forgives */
    bg_throttle_succeeded(t, "10.0.0.1");
    assert_int_equal(bg_throttle_wait(t, "10.0.0.1", 2010), 0);
    assert_int_equal(bg_throttle_failed(t, "10.0.0.1", 2020, &block), 1);
    /* and so does a quiet spell */
    for (int i = 0; i < 3; i++)
        (void)bg_throttle_failed(t, "10.0.0.3", 100, NULL);
    assert_int_equal(bg_throttle_failed(t, "10.0.0.3", 100 + 60000, &block), 1);
    assert_int_equal(block, 0);
    bg_throttle_free(t);
}

/* A flood of addresses fits in the table: the stalest go, memory stays the same. */
static void test_throttle_bounded(void **state)
{
    (void)state;
    struct bg_throttle *t = bg_throttle_new(&limits);
    char key[32];

    for (int i = 0; i < 4; i++)
        (void)bg_throttle_failed(t, "victim", 1, NULL);
    assert_true(bg_throttle_wait(t, "victim", 1) > 0);
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof(key), "10.1.%d.%d", i / 256, i % 256);
        (void)bg_throttle_failed(t, key, 2 + i, NULL);
    }
    /* 16 slots: the victim, the stalest, made room, and nothing grew */
    assert_int_equal(bg_throttle_wait(t, "victim", 20000), 0);
    bg_throttle_succeeded(t, "never-seen");
    bg_throttle_free(t);
}

/* ---- tokens over a store ---- */

struct fixture {
    char dir[256];
    struct bg_store *store;
    struct bg_auth *auth;
};

static int setup(void **state)
{
    struct fixture *f = bg_calloc(1, sizeof(*f));
    struct bg_error err = {0};
    static int n;

    snprintf(f->dir, sizeof(f->dir), "%s/t%d", bg_test_dir(), n++);
    bg_autofree char *db = bg_asprintf("%s/state.db", f->dir);
    if (bg_mkdir_p(f->dir, 0700, &err) < 0 ||
        bg_store_open(db, BG_STORE_READ_WRITE, &f->store, &err) < 0 ||
        bg_auth_new(f->store, f->dir, &f->auth, &err) < 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    bg_auth_free(f->auth);
    bg_store_close(f->store);
    free(f);
    return 0;
}

static struct bg_token_request request(const char *name, unsigned scopes, int64_t expires_in)
{
    struct bg_token_request rq = {.scopes = scopes, .expires_in = expires_in};

    snprintf(rq.name, sizeof(rq.name), "%s", name);
    return rq;
}

static void test_token_lifecycle(void **state)
{
    struct fixture *f = *state;
    struct bg_token_request rq = request("ci", BG_SCOPE_READ | BG_SCOPE_EXEC, 0);
    struct bg_store_token row, got;
    char text[BG_TOKEN_LEN + 1];
    struct bg_error err = {0};
    struct bg_token t;

    assert_int_equal(bg_auth_token_create(f->auth, &rq, 1000, &row, text, &err), 0);
    assert_int_equal(bg_token_parse(text, strlen(text), &t, &err), 0);
    assert_string_equal(t.id, row.id);
    assert_int_equal(row.scopes, BG_SCOPE_READ | BG_SCOPE_EXEC);
    assert_int_equal(row.expires_at, 0);
    /* the store has the keyed hash, which is not the secret */
    assert_int_equal(bg_store_token_get(f->store, row.id, &got, &err), 0);
    assert_memory_not_equal(got.hash, t.secret, sizeof(got.hash));
    assert_int_equal(bg_auth_token_verify(f->auth, text, strlen(text), 1100, &got, &err), 0);
    assert_string_equal(got.name, "ci");
    assert_int_equal(got.last_used_at, 1100);
    /* used again within a minute: no write */
    assert_int_equal(bg_auth_token_verify(f->auth, text, strlen(text), 1130, &got, &err), 0);
    assert_int_equal(bg_store_token_get(f->store, row.id, &got, &err), 0);
    assert_int_equal(got.last_used_at, 1100);
    /* a second token of the same name is refused, naming it */
    assert_err(bg_auth_token_create(f->auth, &rq, 1000, &row, text, &err), err, -EEXIST,
               "a token named 'ci' already exists");
}

static void test_token_refusals(void **state)
{
    struct fixture *f = *state;
    struct bg_token_request rq = request("exp", BG_SCOPE_READ, 60);
    struct bg_store_token row, got;
    char text[BG_TOKEN_LEN + 1], other[BG_TOKEN_LEN + 1];
    struct bg_error err = {0};
    struct bg_token t;

    assert_int_equal(bg_auth_token_create(f->auth, &rq, 1000, &row, text, &err), 0);
    assert_int_equal(row.expires_at, 1060);
    assert_int_equal(bg_auth_token_verify(f->auth, text, strlen(text), 1059, &got, &err), 0);
    assert_err(bg_auth_token_verify(f->auth, text, strlen(text), 1060, &got, &err), err,
               -EKEYEXPIRED, "expired");
    assert_int_equal(got.expires_at, 1060);
    /* the right id with another secret */
    assert_int_equal(bg_token_parse(text, strlen(text), &t, &err), 0);
    t.secret[5] ^= 1;
    bg_token_format(&t, other);
    assert_err(bg_auth_token_verify(f->auth, other, strlen(other), 1000, &got, &err), err, -EACCES,
               "is wrong");
    /* an id nobody has */
    memcpy(t.id, "zzzzzzzzzzzz", sizeof(t.id));
    bg_token_format(&t, other);
    assert_err(bg_auth_token_verify(f->auth, other, strlen(other), 1000, &got, &err), err, -EACCES,
               "no token has the id");
    assert_err(bg_auth_token_verify(f->auth, "bgr_x", 5, 1000, &got, &err), err, -EACCES,
               "not a banger token");
    /* revoked: at once */
    assert_int_equal(bg_store_token_delete(f->store, row.id, &err), 0);
    assert_err(bg_auth_token_verify(f->auth, text, strlen(text), 1000, &got, &err), err, -EACCES,
               "revoked");
    assert_err(bg_store_token_delete(f->store, row.id, &err), err, -ENOENT, "not found");
}

/* The key file is made once and read back: tokens outlive a restart. A damaged one is refused
 * rather than replaced (that would silently revoke every token). */
static void test_key_file(void **state)
{
    struct fixture *f = *state;
    struct bg_token_request rq = request("keep", BG_SCOPE_READ, 0);
    struct bg_store_token row, got;
    char text[BG_TOKEN_LEN + 1];
    struct bg_error err = {0};
    struct stat st;
    struct bg_auth *again = NULL;

    bg_autofree char *key = bg_asprintf("%s/%s", f->dir, BG_AUTH_KEY_FILE);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_int_equal(bg_auth_token_create(f->auth, &rq, 1, &row, text, &err), 0);
    assert_int_equal(bg_auth_new(f->store, f->dir, &again, &err), 0);
    assert_int_equal(bg_auth_token_verify(again, text, strlen(text), 2, &got, &err), 0);
    bg_auth_free(again);
    free(bg_test_write_file(key, "short", 5));
    assert_err(bg_auth_new(f->store, f->dir, &again, &err), err, -EINVAL,
               "holds 5 bytes, not the 32 of a token hash key");
}

/* ---- the TLS identity ---- */

static void test_identity_made_and_kept(void **state)
{
    struct fixture *f = *state;
    struct bg_tls_identity a = {0}, b = {0};
    struct bg_error err = {0};
    struct stat st;

    assert_int_equal(bg_tls_identity_load(NULL, NULL, f->dir, &a, &err), 0);
    assert_true(a.generated);
    assert_true(a.created);
    assert_non_null(strstr(a.cert_pem, "BEGIN CERTIFICATE"));
    bg_autofree char *key = bg_asprintf("%s/tls/server.key", f->dir);
    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(bg_tls_identity_load(NULL, NULL, f->dir, &b, &err), 0);
    assert_false(b.created);
    assert_memory_equal(a.fingerprint, b.fingerprint, sizeof(a.fingerprint));
    bg_tls_identity_done(&b);
    /* the operator's own pair: here, the generated one named by path */
    bg_autofree char *cert = bg_asprintf("%s/tls/server.crt", f->dir);
    assert_int_equal(bg_tls_identity_load(cert, key, "/nonexistent", &b, &err), 0);
    assert_false(b.generated);
    assert_memory_equal(a.fingerprint, b.fingerprint, sizeof(a.fingerprint));
    assert_string_equal(b.cert_path, cert);
    bg_tls_identity_done(&b);
    bg_tls_identity_done(&a);
}

static void test_identity_refusals(void **state)
{
    struct fixture *f = *state;
    struct bg_tls_identity a = {0}, b = {0};
    struct bg_error err = {0};

    bg_autofree char *other = bg_asprintf("%s/other", f->dir);
    assert_int_equal(bg_tls_identity_load(NULL, NULL, f->dir, &a, &err), 0);
    assert_int_equal(bg_tls_identity_load(NULL, NULL, other, &b, &err), 0);
    bg_tls_identity_done(&b);
    bg_autofree char *cert = bg_asprintf("%s/tls/server.crt", f->dir);
    bg_autofree char *key_b = bg_asprintf("%s/tls/server.key", other);
    assert_err(bg_tls_identity_load(cert, key_b, f->dir, &b, &err), err, -EINVAL,
               "is not the key of the certificate");
    bg_autofree char *junk = bg_asprintf("%s/junk.pem", f->dir);
    free(bg_test_write_file(junk, "not a certificate\n", 18));
    assert_err(bg_tls_identity_load(junk, key_b, f->dir, &b, &err), err, -EINVAL,
               "is not a PEM certificate");
    bg_autofree char *missing = bg_asprintf("%s/missing.pem", f->dir);
    assert_err(bg_tls_identity_load(missing, key_b, f->dir, &b, &err), err, -ENOENT,
               "TLS certificate");
    bg_tls_identity_done(&a);
}

/* ---- the gate ---- */

static void test_gate(void **state)
{
    struct fixture *f = *state;
    struct bg_token_request rq = request("gate", BG_SCOPE_EXEC, 0);
    static const uint8_t pinned[1][BG_FINGERPRINT_BYTES] = {{1, 2, 3}};
    struct bg_store_token row;
    char text[BG_TOKEN_LEN + 1];
    struct bg_error err = {0};

    assert_int_equal(bg_auth_token_create(f->auth, &rq, time(NULL), &row, text, &err), 0);
    struct bg_auth_gate *g = bg_auth_gate_new(f->auth, NULL, 0, &limits);
    struct bg_http_credentials c = {.peer = "192.0.2.1", .token = text};
    struct bg_http_auth_result res = {0};
    assert_int_equal(bg_auth_gate_check(g, &c, &res), 0);
    assert_int_equal(res.principal.scopes, BG_SCOPE_EXEC);
    assert_non_null(strstr(res.principal.name, row.id));
    /* three free failures, then the fourth blocks: every request, the good one too, waits */
    c = (struct bg_http_credentials){.peer = "192.0.2.1", .bearer_why = "no token"};
    for (int i = 0; i < 4; i++) {
        res = (struct bg_http_auth_result){0};
        assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
        assert_int_equal(res.problem, BG_PROBLEM_UNAUTHORIZED);
        assert_string_equal(res.detail, "no token");
    }
    c.token = text;
    res = (struct bg_http_auth_result){0};
    assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
    assert_int_equal(res.problem, BG_PROBLEM_TOO_MANY_AUTH_FAILURES);
    assert_int_equal(res.retry_after_s, 1);
    bg_auth_gate_free(g);
    /* IPv6 addresses count by their /64, IPv4 ones (mapped ones too) by themselves */
    g = bg_auth_gate_new(f->auth, NULL, 0, &limits);
    static const char *const v6[] = {"[2001:db8:1:2::1]", "[2001:db8:1:2::2]",
                                     "[2001:db8:1:2:aaaa::3]",
                                     "[2001:db8:1:2:ffff:ffff:ffff:ffff]"};
    for (int i = 0; i < 4; i++) {
        c = (struct bg_http_credentials){.peer = v6[i], .bearer_why = "no token"};
        assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
        assert_int_equal(res.problem, BG_PROBLEM_UNAUTHORIZED);
    }
    c = (struct bg_http_credentials){.peer = "[2001:db8:1:2::9]", .token = text};
    res = (struct bg_http_auth_result){0};
    assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
    assert_int_equal(res.problem, BG_PROBLEM_TOO_MANY_AUTH_FAILURES);
    assert_non_null(strstr(res.detail, "[2001:db8:1:2::]/64"));
    c.peer = "[2001:db8:1:3::1]";
    assert_int_equal(bg_auth_gate_check(g, &c, &res), 0);
    static const char *const mapped[] = {"[::ffff:192.0.2.7]", "[::ffff:192.0.2.8]",
                                         "[::ffff:192.0.2.9]", "[::ffff:192.0.2.10]"};
    for (int i = 0; i < 4; i++) {
        c = (struct bg_http_credentials){.peer = mapped[i], .bearer_why = "no token"};
        assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
        assert_int_equal(res.problem, BG_PROBLEM_UNAUTHORIZED);
    }
    c = (struct bg_http_credentials){.peer = "[::ffff:192.0.2.11]", .token = text};
    assert_int_equal(bg_auth_gate_check(g, &c, &res), 0);
    bg_auth_gate_free(g);
    /* a pinned client certificate: none, another, the one */
    g = bg_auth_gate_new(f->auth, pinned, 1, &limits);
    c = (struct bg_http_credentials){.peer = "192.0.2.2", .token = text};
    res = (struct bg_http_auth_result){0};
    assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
    assert_int_equal(res.problem, BG_PROBLEM_CLIENT_CERTIFICATE_REQUIRED);
    assert_non_null(strstr(res.detail, "presented none"));
    c.has_cert = true;
    c.cert_sha256[0] = 9;
    assert_int_equal(bg_auth_gate_check(g, &c, &res), -1);
    assert_non_null(strstr(res.detail, "09000000"));
    memcpy(c.cert_sha256, pinned[0], sizeof(c.cert_sha256));
    res = (struct bg_http_auth_result){0};
    assert_int_equal(bg_auth_gate_check(g, &c, &res), 0);
    bg_auth_gate_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throttle_blocks_and_forgives),
        cmocka_unit_test(test_throttle_bounded),
        cmocka_unit_test_setup_teardown(test_token_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_made_and_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate, setup, teardown),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
