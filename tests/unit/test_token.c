/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/token.c and api/src/fingerprint.c: the token format (a malformed-input
 * table), scope names, the POST /v1/tokens codec, and certificate fingerprints. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/fingerprint.h"
#include "banger/macro.h"
#include "banger/token.h"
#include "banger/utf8.h"
#include "testutil.h"

#define ID "abcdefgh2345"
#define SECRET52 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* A token with a secret of bytes 0, 1, 2, ... */
static struct bg_token counting_token(void)
{
    struct bg_token t;

    memcpy(t.id, ID, sizeof(t.id));
    for (size_t i = 0; i < sizeof(t.secret); i++)
        t.secret[i] = (uint8_t)(i * 7 + 1);
    return t;
}

static void test_format_parse_roundtrip(void **state)
{
    (void)state;
    struct bg_token t = counting_token(), back;
    char text[BG_TOKEN_LEN + 1];
    struct bg_error err = {0};

    bg_token_format(&t, text);
    assert_int_equal(strlen(text), BG_TOKEN_LEN);
    assert_memory_equal(text, "bgr_" ID "_", 17);
    assert_int_equal(bg_token_parse(text, strlen(text), &back, &err), 0);
    assert_string_equal(back.id, ID);
    assert_memory_equal(back.secret, t.secret, sizeof(t.secret));
    /* every secret has exactly one spelling: the last character carries one bit */
    assert_true(text[BG_TOKEN_LEN - 1] == 'a' || text[BG_TOKEN_LEN - 1] == 'q');
}

/* One refusal: -EINVAL, the fragment, valid UTF-8, and never the input repeated (a secret must
 * not reach a log through a refusal). */
static void expect_refused(const char *in, size_t len, const char *fragment, size_t i)
{
    struct bg_token t;
    struct bg_error err = {0};
    int r = bg_token_parse(in, len, &t, &err);

    if (r != -EINVAL)
        fail_msg("case %zu was accepted", i);
    assert_err(r, err, -EINVAL, fragment);
    assert_true(bg_utf8_valid(err.msg, strlen(err.msg)));
    assert_null(strstr(err.msg, "aaaaaaaa"));
}

static void test_parse_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *fragment;
    } whole[] = {
        {"", "starts with 'bgr_'"},
        {"bgr", "starts with 'bgr_'"},
        {"BGR_" ID "_" SECRET52, "starts with 'bgr_'"},
        {"ghp_" ID "_" SECRET52, "starts with 'bgr_'"},
        {"bgr_" ID "_" SECRET52 "a", "69 characters long, not 70"},
        {"bgr_" ID "_", "not 17"},
        {"bgr_" ID "-" SECRET52, "a 12-character id, '_' and the secret"},
        {"bgr_abcdefgh234_a" SECRET52, "a 12-character id"},
        {"bgr_ABCDEFGH2345_" SECRET52, "the id of a banger token is base32"},
        {"bgr_abcdefgh2341_" SECRET52, "character 12 is not"},
        {"bgr_abcdefgh_345_" SECRET52, "character 9 is not"},
    };
    /* the good token with one character of its secret changed */
    static const struct {
        size_t at;
        char c;
        const char *fragment;
    } secret[] = {
        {0, 'A', "the secret of a banger token is base32"},
        {50, '8', "character 51 is not"},
        {51, '=', "character 52 is not"},
        {51, '\xc3', "character 52 is not"},
        {25, '\0', "character 26 is not"},
        /* a second spelling of the same secret: bits past the 256th */
        {51, 'b', "carries bits past its 256"},
        {51, 'r', "bits past"},
    };
    char good[] = "bgr_" ID "_" SECRET52;
    struct bg_token t;
    struct bg_error err = {0};

    assert_int_equal(bg_token_parse(good, strlen(good), &t, &err), 0);
    for (size_t i = 0; i < BG_ARRAY_SIZE(whole); i++)
        expect_refused(whole[i].in, strlen(whole[i].in), whole[i].fragment, i);
    for (size_t i = 0; i < BG_ARRAY_SIZE(secret); i++) {
        char bad[sizeof(good)];
        memcpy(bad, good, sizeof(good));
        bad[17 + secret[i].at] = secret[i].c;
        expect_refused(bad, BG_TOKEN_LEN, secret[i].fragment, i + BG_ARRAY_SIZE(whole));
    }
}

static void test_id_and_mask(void **state)
{
    (void)state;
    char masked[BG_TOKEN_MASKED_LEN + 1];

    assert_true(bg_token_id_valid(ID));
    assert_false(bg_token_id_valid("abcdefgh234"));
    assert_false(bg_token_id_valid("abcdefgh23456"));
    assert_false(bg_token_id_valid("abcdefgh2341"));
    assert_false(bg_token_id_valid(""));
    assert_string_equal(bg_token_mask(ID, masked), "bgr_" ID "_****");
    assert_int_equal(strlen(masked), BG_TOKEN_MASKED_LEN);
}

static void test_scopes(void **state)
{
    (void)state;
    char buf[BG_SCOPES_TEXT_MAX];
    struct bg_error err = {0};
    unsigned bit = 0;

    assert_int_equal(bg_scope_parse("exec", &bit, &err), 0);
    assert_int_equal(bit, BG_SCOPE_EXEC);
    assert_err(bg_scope_parse("root", &bit, &err), err, -EINVAL, "'root' is not a scope");
    assert_err(bg_scope_parse("", &bit, &err), err, -EINVAL, "is not a scope");
    assert_string_equal(bg_scopes_format(BG_SCOPE_ALL, buf), "read, write, exec, admin");
    assert_string_equal(bg_scopes_format(BG_SCOPE_EXEC | BG_SCOPE_READ, buf), "read, exec");
    assert_string_equal(bg_scopes_format(0, buf), "none");
    assert_string_equal(bg_scope_name(BG_SCOPE_ADMIN), "admin");
    assert_string_equal(bg_scope_name(BG_SCOPE_ANY), "?");
    json_t *j = bg_scopes_to_json(BG_SCOPE_WRITE | BG_SCOPE_ADMIN);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_string_equal(text, "[\"write\",\"admin\"]");
    free(text);
    json_decref(j);
}

static void test_request_decode(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        enum bg_problem problem;
        const char *field, *fragment;
    } bad[] = {
        {"{\"scopes\":[\"read\"]}", BG_PROBLEM_MISSING_FIELD, "name", "name"},
        {"{\"name\":\"ci\"}", BG_PROBLEM_MISSING_FIELD, "scopes", "field 'scopes' is required"},
        {"{\"name\":\"ci\",\"scopes\":[]}", BG_PROBLEM_INVALID_FIELD, "scopes", "non-empty array"},
        {"{\"name\":\"ci\",\"scopes\":\"read\"}", BG_PROBLEM_INVALID_FIELD, "scopes", "array"},
        {"{\"name\":\"ci\",\"scopes\":[1]}", BG_PROBLEM_INVALID_FIELD, "scopes",
         "element 0 is not a string"},
        {"{\"name\":\"ci\",\"scopes\":[\"read\",\"sudo\"]}", BG_PROBLEM_INVALID_FIELD, "scopes",
         "'sudo' is not a scope"},
        {"{\"name\":\"ci\",\"scopes\":[\"read\",\"read\"]}", BG_PROBLEM_INVALID_FIELD, "scopes",
         "'read' is given twice"},
        {"{\"name\":\"ci\",\"scopes\":[\"re\\u0000ad\"]}", BG_PROBLEM_INVALID_FIELD, "scopes",
         "not a string"},
        {"{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_in_s\":0}", BG_PROBLEM_INVALID_FIELD,
         "expires_in_s", "expires_in_s"},
        {"{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_in_s\":999999999999}",
         BG_PROBLEM_INVALID_FIELD, "expires_in_s", "expires_in_s"},
        {"{\"name\":\"ci\",\"scopes\":[\"read\"],\"expires_in_s\":\"1h\"}",
         BG_PROBLEM_INVALID_FIELD, "expires_in_s", "expires_in_s"},
        {"{\"name\":\"CI\",\"scopes\":[\"read\"]}", BG_PROBLEM_INVALID_NAME, "name", "name"},
        {"{\"name\":\"ci\",\"scopes\":[\"read\"],\"secret\":\"x\"}", BG_PROBLEM_UNKNOWN_FIELD,
         "secret", "secret"},
    };
    struct bg_token_request rq;

    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        json_t *body = json_loads(bad[i].body, JSON_ALLOW_NUL, NULL);
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        assert_non_null(body);
        int r = bg_token_request_decode(body, &rq, &f, &err);
        json_decref(body);
        if (r != -EINVAL)
            fail_msg("case %zu accepted", i);
        assert_int_equal(f.problem, bad[i].problem);
        assert_string_equal(f.field, bad[i].field);
        if (!strstr(err.msg, bad[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].fragment);
    }
    json_t *ok = json_loads(
        "{\"name\":\"ci-1\",\"scopes\":[\"exec\",\"read\"],\"expires_in_s\":60}", 0, NULL);
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    assert_int_equal(bg_token_request_decode(ok, &rq, &f, &err), 0);
    assert_string_equal(rq.name, "ci-1");
    assert_int_equal(rq.scopes, BG_SCOPE_EXEC | BG_SCOPE_READ);
    assert_int_equal(rq.expires_in, 60);
    json_decref(ok);
}

static void test_fingerprints(void **state)
{
    (void)state;
    static const char hex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    static const char colons[] = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:"
                                 "55:66:77:88:99:AA:BB:CC:DD:EE:FF";
    static const struct {
        const char *in;
        const char *fragment; /* NULL: accepted */
    } cases[] = {
        {hex, NULL},
        {colons, NULL},
        {"sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", NULL},
        {"SHA256:00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF", NULL},
        {"", "not 0 characters"},
        {"sha256:", "not 0 characters"},
        {"00112233", "not 8 characters"},
        {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00", "not 66"},
        {"0g112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
         "character 2 is not one"},
        {"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:"
         "CC:DD:EE;FF",
         "character 93 is not ':'"},
        {"00:1122:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:"
         "DD:EE:FF:",
         "character 6 is not ':'"},
        {"md5:00112233445566778899aabbccddeeff", "not 36 characters"},
    };
    uint8_t fp[BG_FINGERPRINT_BYTES], first[BG_FINGERPRINT_BYTES];
    char out[BG_FINGERPRINT_HEX_MAX];

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_error err = {0};
        int r = bg_fingerprint_parse(cases[i].in, strlen(cases[i].in), fp, &err);
        if (!cases[i].fragment) {
            assert_int_equal(r, 0);
            if (i == 0)
                memcpy(first, fp, sizeof(fp));
            assert_memory_equal(fp, first, sizeof(fp));
            continue;
        }
        if (r == 0)
            fail_msg("case %zu accepted", i);
        assert_err(r, err, -EINVAL, cases[i].fragment);
    }
    assert_string_equal(bg_fingerprint_format(first, out), hex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_parse_roundtrip),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_id_and_mask),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_request_decode),
        cmocka_unit_test(test_fingerprints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
