/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/agentreq.c: strict decoding of agent JSON payloads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"
#include "banger/alloc.h"

/* A NULL-terminated vector of copies of the arguments (which end with NULL). */
static char **strv(const char *first, ...)
{
    char **v = bg_calloc(8, sizeof(char *));
    va_list ap;
    size_t n = 0;

    va_start(ap, first);
    for (const char *s = first; s && n < 7; s = va_arg(ap, const char *))
        v[n++] = bg_strdup(s);
    va_end(ap);
    return v;
}

static int decode(const char *json, struct bg_agentreq_exec *r, struct bg_error *err)
{
    return bg_agentreq_exec_decode(json, strlen(json), r, err);
}

static void test_exec_full(void **state)
{
    (void)state;
    struct bg_agentreq_exec r;
    struct bg_error err;
    const char *json =
        "{\"argv\":[\"sh\",\"-c\",\"echo hi\"],\"env\":{\"A\":\"1\",\"B_2\":\"x=y\"},"
        "\"cwd\":\"/root/repo\",\"tty\":true,\"stdin\":true,\"rows\":24,"
        "\"cols\":80}";

    assert_int_equal(decode(json, &r, &err), 0);
    assert_int_equal(r.argc, 3);
    assert_string_equal(r.argv[2], "echo hi");
    assert_null(r.argv[3]);
    assert_int_equal(r.envc, 2);
    assert_string_equal(r.env[0], "A=1");
    assert_string_equal(r.env[1], "B_2=x=y");
    assert_null(r.env[2]);
    assert_string_equal(r.cwd, "/root/repo");
    assert_true(r.tty);
    assert_true(r.attach_stdin);
    assert_int_equal(r.rows, 24);
    assert_int_equal(r.cols, 80);
    bg_agentreq_exec_done(&r);
    assert_null(r.argv);
}

static void test_exec_minimal(void **state)
{
    (void)state;
    struct bg_agentreq_exec r;
    struct bg_error err;

    assert_int_equal(decode("{\"argv\":[\"true\"],\"cwd\":\"\"}", &r, &err), 0);
    assert_int_equal(r.argc, 1);
    assert_int_equal(r.envc, 0);
    assert_non_null(r.env);
    assert_null(r.env[0]);
    assert_null(r.cwd);
    assert_false(r.tty);
    assert_false(r.attach_stdin);
    bg_agentreq_exec_done(&r);
}

/* The encoder's output decodes to the same request. */
static void test_exec_encode(void **state)
{
    (void)state;
    char **argv = strv("printf", "%s\\n", "\xc3\xa9t\xc3\xa9", NULL);
    char **env = strv("TERM=dumb", "EMPTY=", NULL);
    char cwd[] = "/tmp";
    struct bg_agentreq_exec in = {
        .argv = argv, .env = env, .cwd = cwd, .tty = true, .rows = 50, .cols = 132};
    struct bg_agentreq_exec out;
    struct bg_error err;
    char *json = NULL;
    size_t len = 0;

    assert_int_equal(bg_agentreq_exec_encode(&in, &json, &len, &err), 0);
    assert_int_equal(len, strlen(json));
    assert_int_equal(bg_agentreq_exec_decode(json, len, &out, &err), 0);
    assert_string_equal(out.argv[2], argv[2]);
    assert_string_equal(out.env[0], "TERM=dumb");
    assert_string_equal(out.env[1], "EMPTY=");
    assert_string_equal(out.cwd, "/tmp");
    assert_int_equal(out.rows, 50);
    assert_true(out.tty);
    bg_agentreq_exec_done(&out);
    free(json);
    bg_strv_free(argv);
    bg_strv_free(env);
}

static void test_exec_encode_refusals(void **state)
{
    (void)state;
    char **argv = strv("ls", NULL);
    char **bad_env = strv("NOEQUALS", NULL);
    char **bad_name = strv("1X=2", NULL);
    char **bad_utf8 = strv("\xff", NULL);
    char *empty[] = {NULL};
    char relative[] = "relative";
    struct bg_agentreq_exec r = {.argv = argv, .env = bad_env};
    struct bg_error err;
    char *json = NULL;
    size_t len;

    assert_int_equal(bg_agentreq_exec_encode(&r, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not NAME=value"));
    r.env = bad_name;
    assert_int_equal(bg_agentreq_exec_encode(&r, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a variable name"));
    r.env = NULL;
    r.argv = bad_utf8;
    assert_int_equal(bg_agentreq_exec_encode(&r, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "UTF-8"));
    r.argv = empty;
    assert_int_equal(bg_agentreq_exec_encode(&r, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "non-empty"));
    r.argv = argv;
    r.cwd = relative;
    assert_int_equal(bg_agentreq_exec_encode(&r, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "absolute"));
    assert_null(json);

    /* over the payload cap */
    char *big = bg_malloc(BG_AGENT_PAYLOAD_MAX + 1);
    memset(big, 'a', BG_AGENT_PAYLOAD_MAX);
    big[BG_AGENT_PAYLOAD_MAX] = '\0';
    char *big_argv[] = {big, NULL};
    struct bg_agentreq_exec b = {.argv = big_argv};
    assert_int_equal(bg_agentreq_exec_encode(&b, &json, &len, &err), -EMSGSIZE);
    assert_non_null(strstr(err.msg, "over 65536"));
    free(big);
    bg_strv_free(argv);
    bg_strv_free(bad_env);
    bg_strv_free(bad_name);
    bg_strv_free(bad_utf8);
}

struct bad_case {
    const char *json;
    const char *fragment;
};

static void test_exec_malformed(void **state)
{
    (void)state;
    const struct bad_case bad[] = {
        {"", "invalid JSON"},
        {"{", "invalid JSON"},
        {"[\"ls\"]", "must be a JSON object"},
        {"{\"argv\":[\"ls\"],\"argv\":[\"ls\"]}", "invalid JSON"}, /* duplicate */
        {"{}", "'argv' is required"},
        {"{\"argv\":[]}", "non-empty array"},
        {"{\"argv\":\"ls\"}", "non-empty array"},
        {"{\"argv\":null}", "non-empty array"},
        {"{\"argv\":[1]}", "'argv'[0] must be a string"},
        {"{\"argv\":[\"ls\",null]}", "'argv'[1] must be a string"},
        {"{\"argv\":[\"ls\",\"a\\u0000b\"]}", "\\u0000 is not allowed"},
        {"{\"argv\":[\"\"]}", "'argv'[0] must not be empty"},
        {"{\"argv\":[\"ls\"],\"bogus\":1}", "unknown field 'bogus'"},
        {"{\"argv\":[\"ls\"],\"env\":[]}", "'env' must be an object"},
        {"{\"argv\":[\"ls\"],\"env\":{\"A\":1}}", "value of 'A' must be a string"},
        {"{\"argv\":[\"ls\"],\"env\":{\"A\":\"\\u0000\"}}", "is not allowed"},
        {"{\"argv\":[\"ls\"],\"env\":{\"1A\":\"x\"}}", "'1A' is not a variable name"},
        {"{\"argv\":[\"ls\"],\"env\":{\"A=B\":\"x\"}}", "is not a variable name"},
        {"{\"argv\":[\"ls\"],\"env\":{\"\":\"x\"}}", "is not a variable name"},
        {"{\"argv\":[\"ls\"],\"cwd\":\"tmp\"}", "absolute path"},
        {"{\"argv\":[\"ls\"],\"cwd\":1}", "'cwd' must be a string"},
        {"{\"argv\":[\"ls\"],\"cwd\":\"/a\\u0000\"}", "is not allowed"},
        {"{\"argv\":[\"ls\"],\"tty\":1}", "'tty' must be true or false"},
        {"{\"argv\":[\"ls\"],\"stdin\":\"yes\"}", "'stdin' must be true or false"},
        {"{\"argv\":[\"ls\"],\"rows\":-1}", "'rows' must be an integer in 0..65535"},
        {"{\"argv\":[\"ls\"],\"cols\":65536}", "'cols' must be an integer in 0..65535"},
        {"{\"argv\":[\"ls\"],\"rows\":1.5}", "'rows' must be an integer"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_agentreq_exec r = {.argc = 12345};
        struct bg_error err = {0};
        int rc = decode(bad[i].json, &r, &err);
        if (rc != -EINVAL)
            fail_msg("case %zu '%s': returned %d", i, bad[i].json, rc);
        assert_int_equal(err.code, -EINVAL);
        if (!strstr(err.msg, bad[i].fragment))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].fragment);
        assert_int_equal(r.argc, 12345); /* untouched on failure */
    }
}

static void test_exec_caps(void **state)
{
    (void)state;
    struct bg_agentreq_exec r;
    struct bg_error err;
    size_t n = BG_AGENT_ARGV_MAX + 1;
    char *json = bg_malloc(16 + n * 4);
    char *p = json + sprintf(json, "{\"argv\":[");

    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s\"a\"", i ? "," : "");
    strcpy(p, "]}");
    assert_int_equal(decode(json, &r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "more than 4096"));
    /* exactly at the cap is fine */
    p = json + sprintf(json, "{\"argv\":[");
    for (size_t i = 0; i < BG_AGENT_ARGV_MAX; i++)
        p += sprintf(p, "%s\"a\"", i ? "," : "");
    strcpy(p, "]}");
    assert_int_equal(decode(json, &r, &err), 0);
    assert_int_equal(r.argc, BG_AGENT_ARGV_MAX);
    bg_agentreq_exec_done(&r);
    free(json);

    assert_int_equal(bg_agentreq_exec_decode("{}", BG_AGENT_PAYLOAD_MAX + 1, &r, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "over 65536"));
}

static void test_hello(void **state)
{
    (void)state;
    struct bg_agentreq_hello h;
    struct bg_error err;
    const char *ok = "{\"version\":1,\"agent\":\"0.1.0\",\"caps\":[\"exec\",\"pty\",\"future\"]}";

    assert_int_equal(bg_agentreq_hello_decode(ok, strlen(ok), &h, &err), 0);
    assert_int_equal(h.version, 1);
    assert_string_equal(h.agent, "0.1.0");
    assert_true(h.cap_exec);
    assert_true(h.cap_pty);
    assert_int_equal(bg_agentreq_hello_decode("{\"version\":2}", 13, &h, &err), 0);
    assert_int_equal(h.version, 2);
    assert_false(h.cap_exec);

    const struct bad_case bad[] = {
        {"{}", "'version' is required"},
        {"{\"version\":0}", "'version' must be an integer"},
        {"{\"version\":\"1\"}", "'version' must be an integer"},
        {"{\"version\":1,\"x\":1}", "unknown field 'x'"},
        {"{\"version\":1,\"agent\":5}", "'agent' must be a string"},
        {"{\"version\":1,\"caps\":\"exec\"}", "'caps' must be an array"},
        {"{\"version\":1,\"caps\":[1]}", "'caps'[0] must be a short string"},
        {"nope", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_error e = {0};
        if (bg_agentreq_hello_decode(bad[i].json, strlen(bad[i].json), &h, &e) != -EINVAL ||
            !strstr(e.msg, bad[i].fragment))
            fail_msg("hello case %zu: '%s' lacks '%s'", i, e.msg, bad[i].fragment);
    }
}

static void test_started_exit_error(void **state)
{
    (void)state;
    struct bg_error err;
    int pid = 0, code = 0, sig = 0;
    char msg[16];

    assert_int_equal(bg_agentreq_started_decode("{\"pid\":42}", 10, &pid, &err), 0);
    assert_int_equal(pid, 42);
    assert_int_equal(bg_agentreq_started_decode("{\"pid\":0}", 9, &pid, &err), -EINVAL);
    assert_int_equal(bg_agentreq_started_decode("{}", 2, &pid, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "'pid' is required"));

    assert_int_equal(bg_agentreq_exit_decode("{\"exit_code\":7}", 15, &code, &sig, &err), 0);
    assert_int_equal(code, 7);
    assert_int_equal(sig, 0);
    assert_int_equal(bg_agentreq_exit_decode("{\"signal\":9}", 12, &code, &sig, &err), 0);
    assert_int_equal(code, -1);
    assert_int_equal(sig, 9);
    const struct bad_case bad_exit[] = {
        {"{}", "exactly one"},
        {"{\"exit_code\":1,\"signal\":2}", "exactly one"},
        {"{\"exit_code\":256}", "0..255"},
        {"{\"signal\":0}", "1..64"},
        {"{\"signal\":65}", "1..64"},
        {"{\"status\":1}", "unknown field"},
    };
    for (size_t i = 0; i < sizeof(bad_exit) / sizeof(bad_exit[0]); i++) {
        struct bg_error e = {0};
        const char *j = bad_exit[i].json;
        if (bg_agentreq_exit_decode(j, strlen(j), &code, &sig, &e) != -EINVAL ||
            !strstr(e.msg, bad_exit[i].fragment))
            fail_msg("exit case %zu: '%s' lacks '%s'", i, e.msg, bad_exit[i].fragment);
    }

    const char *m = "{\"message\":\"line\\none\\u001b[31m long tail\"}";
    assert_int_equal(bg_agentreq_error_decode(m, strlen(m), msg, sizeof(msg), &err), 0);
    assert_string_equal(msg, "line?one?[31m l"); /* control characters masked, cut to fit */
    /* cut on a character boundary: the half of a character that does not fit is left out */
    const char *wide = "{\"message\":\"abcdefghijklm\u00e9\u20acz\"}";
    assert_int_equal(bg_agentreq_error_decode(wide, strlen(wide), msg, sizeof(msg), &err), 0);
    assert_string_equal(msg, "abcdefghijklm\xc3\xa9"); /* 15 of 16: the euro sign would not fit */
    char small[15];
    assert_int_equal(bg_agentreq_error_decode(wide, strlen(wide), small, sizeof(small), &err), 0);
    assert_string_equal(small, "abcdefghijklm"); /* 13 of 14: the e-acute would not fit */
    assert_int_equal(bg_agentreq_error_decode("{}", 2, msg, sizeof(msg), &err), -EINVAL);
    assert_int_equal(bg_agentreq_error_decode("{\"message\":1}", 13, msg, sizeof(msg), &err),
                     -EINVAL);
}

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"

static void test_hello_tcp_caps(void **state)
{
    (void)state;
    struct bg_agentreq_hello h;
    struct bg_error err;
    const char *all = "{\"version\":1,\"caps\":[\"exec\",\"tcp\",\"sshd\"]}";
    const char *old = "{\"version\":1,\"caps\":[\"exec\",\"pty\"]}";

    assert_int_equal(bg_agentreq_hello_decode(all, strlen(all), &h, &err), 0);
    assert_true(h.cap_tcp);
    assert_true(h.cap_sshd);
    assert_int_equal(bg_agentreq_hello_decode(old, strlen(old), &h, &err), 0);
    assert_false(h.cap_tcp);
    assert_false(h.cap_sshd);
}

static void test_connect(void **state)
{
    (void)state;
    struct bg_agentreq_connect r, again;
    struct bg_error err;
    const char *full = "{\"port\":22,\"authorized_key\":\"" KEY "\",\"host_keys\":true}";
    char *json = NULL;
    size_t len = 0;

    assert_int_equal(bg_agentreq_connect_decode(full, strlen(full), &r, &err), 0);
    assert_int_equal(r.port, 22);
    assert_string_equal(r.authorized_key, KEY);
    assert_true(r.host_keys);
    assert_int_equal(bg_agentreq_connect_encode(&r, &json, &len, &err), 0);
    assert_int_equal(bg_agentreq_connect_decode(json, len, &again, &err), 0);
    assert_int_equal(again.port, 22);
    assert_string_equal(again.authorized_key, KEY);
    assert_true(again.host_keys);
    free(json);
    bg_agentreq_connect_done(&again);
    bg_agentreq_connect_done(&r);
    assert_null(r.authorized_key);

    const char *max = "{\"port\":65535}";
    assert_int_equal(bg_agentreq_connect_decode(max, strlen(max), &r, &err), 0);
    assert_int_equal(r.port, 65535);
    assert_null(r.authorized_key);
    assert_false(r.host_keys);
    bg_agentreq_connect_done(&r);

    const struct bad_case bad[] = {
        {"{}", "'port' is required"},
        {"{\"port\":0}", "'port' must be an integer in 1..65535"},
        {"{\"port\":65536}", "'port' must be an integer in 1..65535"},
        {"{\"port\":\"22\"}", "'port' must be an integer"},
        {"{\"port\":22,\"host\":\"10.0.0.1\"}", "unknown field 'host'"},
        {"{\"port\":22,\"host_keys\":1}", "'host_keys' must be true or false"},
        {"{\"port\":22,\"authorized_key\":7}", "'authorized_key' must be a string"},
        {"{\"port\":22,\"authorized_key\":\"ssh-ed25519 AAAA\"}", "'authorized_key': ssh key"},
        {"{\"port\":22,\"authorized_key\":\"" KEY " me@host\"}", "'authorized_key': ssh key"},
        {"[22]", "payload must be a JSON object"},
        {"{\"port\":22", "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_error e = {0};
        if (bg_agentreq_connect_decode(bad[i].json, strlen(bad[i].json), &r, &e) != -EINVAL ||
            !strstr(e.msg, bad[i].fragment))
            fail_msg("connect case %zu: '%s' lacks '%s'", i, e.msg, bad[i].fragment);
    }
    /* the encoder refuses what the agent would, with the same message */
    char bad_key[] = "ssh-ed25519 !!";
    struct bg_agentreq_connect badkey = {.port = 22, .authorized_key = bad_key};
    assert_int_equal(bg_agentreq_connect_encode(&badkey, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "CONNECT: 'authorized_key': ssh key"));
    struct bg_agentreq_connect noport = {0};
    assert_int_equal(bg_agentreq_connect_encode(&noport, &json, &len, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "'port'"));
}

static void test_connected_closed(void **state)
{
    (void)state;
    struct bg_error err;
    char **keys = NULL;
    const char *two = "{\"host_keys\":[\"" KEY "\",\"" KEY "\"]}";

    assert_int_equal(bg_agentreq_connected_decode("{}", 2, &keys, &err), 0);
    assert_null(keys[0]);
    bg_strv_free(keys);
    assert_int_equal(bg_agentreq_connected_decode(two, strlen(two), &keys, &err), 0);
    assert_string_equal(keys[0], KEY);
    assert_string_equal(keys[1], KEY);
    assert_null(keys[2]);
    bg_strv_free(keys);

    char nine[2048] = "{\"host_keys\":[";
    for (int i = 0; i < 9; i++)
        strcat(nine, i ? ",\"" KEY "\"" : "\"" KEY "\"");
    strcat(nine, "]}");
    const struct bad_case bad[] = {
        {"{\"pid\":1}", "unknown field 'pid'"},
        {"{\"host_keys\":\"" KEY "\"}", "'host_keys' must be an array of at most 8"},
        {nine, "'host_keys' must be an array of at most 8"},
        {"{\"host_keys\":[1]}", "'host_keys'[0]: must be a string"},
        {"{\"host_keys\":[\"ssh-ed25519 AAAA\"]}", "'host_keys'[0]: ssh key"},
        {"[]", "payload must be a JSON object"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_error e = {0};
        if (bg_agentreq_connected_decode(bad[i].json, strlen(bad[i].json), &keys, &e) != -EINVAL ||
            !strstr(e.msg, bad[i].fragment))
            fail_msg("connected case %zu: '%s' lacks '%s'", i, e.msg, bad[i].fragment);
    }

    assert_int_equal(bg_agentreq_closed_decode("{}", 2, &err), 0);
    const char *code = "{\"exit_code\":0}";
    assert_int_equal(bg_agentreq_closed_decode(code, strlen(code), &err), -EINVAL);
    assert_non_null(strstr(err.msg, "EXIT: unknown field 'exit_code'"));
    assert_int_equal(bg_agentreq_closed_decode("0", 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "EXIT: invalid JSON"));
    assert_int_equal(bg_agentreq_closed_decode("[]", 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "EXIT: payload must be a JSON object"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_full),
        cmocka_unit_test(test_exec_minimal),
        cmocka_unit_test(test_exec_encode),
        cmocka_unit_test(test_exec_encode_refusals),
        cmocka_unit_test(test_exec_malformed),
        cmocka_unit_test(test_exec_caps),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_started_exit_error),
        cmocka_unit_test(test_hello_tcp_caps),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_connected_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
