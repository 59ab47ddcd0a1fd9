/* SPDX-License-Identifier: MIT */
/* Unit tests for the CLI's remotes: the token and remote commands' arguments, durations, the
 * remotes file (a malformed-input table, its round trip, its permissions), remote URLs, token
 * files, and which endpoint a command line and environment choose. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "args.h"
#include "banger/alloc.h"
#include "banger/token.h"
#include "remote.h"
#include "testutil.h"

#define TOKEN "bgr_abcdefgh2345_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FP "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static int parse(const char *const *v, struct bg_cli_args *a, struct bg_error *err)
{
    const char *argv[24] = {"banger"};
    int argc = 1;

    for (; v[argc - 1]; argc++)
        argv[argc] = v[argc - 1];
    return bg_cli_args_parse(argc, (char *const *)argv, a, err);
}

#define PARSE(a, err, ...) parse((const char *const[]){__VA_ARGS__, NULL}, a, err)

static void test_token_and_remote_args(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "token", "create", "--name", "ci", "--scope", "read,exec",
                           "--scope", "admin", "--expires", "30d"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_TOKEN_CREATE);
    assert_string_equal(a.name, "ci");
    assert_int_equal(a.scopes, BG_SCOPE_READ | BG_SCOPE_EXEC | BG_SCOPE_ADMIN);
    assert_int_equal(a.expires_s, 30 * 86400);
    assert_int_equal(PARSE(&a, &err, "token", "rm", "ci"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_TOKEN_RM);
    assert_int_equal(PARSE(&a, &err, "--remote", "far", "vm", "ls"), 0);
    assert_string_equal(a.remote, "far");
    assert_int_equal(PARSE(&a, &err, "vm", "ls", "--remote=far"), 0);
    assert_string_equal(a.remote, "far");
    assert_int_equal(PARSE(&a, &err, "remote", "add", "far", "https://h:8443", "--token-file", "/t",
                           "--fingerprint", "SHA256:" FP, "--client-cert", "/c", "--client-key",
                           "/k"),
                     0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_REMOTE_ADD);
    assert_string_equal(a.url, "https://h:8443");
    assert_string_equal(a.token_file, "/t");
    assert_string_equal(a.client_key, "/k");
    assert_int_equal(PARSE(&a, &err, "remote", "add", "far", "https://h", "--token-file", "/t",
                           "--accept-certificate"),
                     0);
    assert_true(a.given & BG_CLI_FLAG_ACCEPT_CERT);
}

static void test_token_and_remote_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *argv[12];
        const char *fragment;
    } cases[] = {
        {{"token", "create", "--scope", "read"}, "needs --name"},
        {{"token", "create", "--name", "ci"}, "needs --scope"},
        {{"token", "create", "--name", "ci", "--scope", "root"}, "'root' is not a scope"},
        {{"token", "create", "--name", "ci", "--scope", ","}, "needs read, write, exec or admin"},
        {{"token", "create", "--name", "Ci", "--scope", "read"}, "flag '--name'"},
        {{"token", "create", "--name", "ci", "--scope", "read", "--expires", "soon"},
         "flag '--expires': 'soon' is not a duration"},
        {{"token", "rm"}, "needs a NAME"},
        {{"remote", "add", "far", "--token-file", "/t"}, "needs a URL"},
        {{"remote", "add", "far", "https://h"}, "needs --token-file"},
        {{"remote", "add", "far", "https://h", "--token-file", "/t", "--fingerprint", "ab"},
         "flag '--fingerprint': a SHA-256 fingerprint is 64"},
        {{"remote", "add", "far", "https://h", "--token-file", "/t", "--fingerprint", FP,
          "--accept-certificate"},
         "contradict"},
        {{"remote", "add", "far", "https://h", "--token-file", "/t", "--client-cert", "/c"},
         "'--client-cert' and '--client-key' go together"},
        {{"remote", "add", "far", "https://h", "x", "--token-file", "/t"}, "unexpected argument"},
        {{"--remote", "Far", "vm", "ls"}, "flag '--remote'"},
        {{"--remote", "far", "--socket", "/s", "vm", "ls"}, "contradict each other"},
        {{"vm", "ls", "--scope", "read"}, "unknown flag '--scope'"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_cli_args a;
        struct bg_error err = {0};
        int r = parse(cases[i].argv, &a, &err);
        if (r != -EINVAL || !strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: got %d '%s', want '%s'", i, r, err.msg, cases[i].fragment);
    }
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint64_t want; /* 0: refused */
    } cases[] = {
        {"1", 1},         {"45s", 45},     {"90m", 5400},   {"12h", 43200},
        {"30d", 2592000}, {"2w", 1209600}, {"0", 0},        {"", 0},
        {"s", 0},         {"10x", 0},      {"1.5h", 0},     {"-1h", 0},
        {"10hs", 0},      {"h10", 0},      {"1000000w", 0}, {"99999999999999999999", 0},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        uint64_t got = 0;
        struct bg_error err = {0};
        int r = bg_cli_args_duration(cases[i].in, 1, BG_TOKEN_EXPIRES_MAX, &got, &err);
        if (cases[i].want) {
            if (r != 0 || got != cases[i].want)
                fail_msg("case %zu ('%s'): got %d %llu", i, cases[i].in, r,
                         (unsigned long long)got);
            continue;
        }
        if (r == 0)
            fail_msg("case %zu ('%s') accepted", i, cases[i].in);
        assert_true(r == -EINVAL || r == -ERANGE);
        assert_true(strstr(err.msg, "duration") || strstr(err.msg, "out of range"));
    }
}

static void test_urls(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want; /* want NULL: refused */
    } cases[] = {
        {"https://host:8443", "https://host:8443"},
        {"https://host:8443/", "https://host:8443"},
        {"https://h.example.org", "https://h.example.org"},
        {"https://10.0.0.1:1", "https://10.0.0.1:1"},
        {"https://[::1]:8443", "https://[::1]:8443"},
        {"https://[::1]", "https://[::1]"},
        {"http://host:8443", NULL},
        {"host:8443", NULL},
        {"https://", NULL},
        {"https://host:0", NULL},
        {"https://host:65536", NULL},
        {"https://host:84x3", NULL},
        {"https://host:", NULL},
        {"https://host:8443/v1", NULL},
        {"https://user@host", NULL},
        {"https://host?x=1", NULL},
        {"https://[::g]:8443", NULL},
        {"https://-host", NULL},
        {"https://ho st", NULL},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        char *got = NULL;
        struct bg_error err = {0};
        int r = bg_cli_remote_url_parse(cases[i].in, &got, &err);
        if (cases[i].want) {
            if (r != 0)
                fail_msg("case %zu ('%s') refused: %s", i, cases[i].in, err.msg);
            assert_string_equal(got, cases[i].want);
        } else if (r != -EINVAL) {
            fail_msg("case %zu ('%s') accepted", i, cases[i].in);
        }
        free(got);
    }
}

static void test_remotes_file(void **state)
{
    (void)state;
    static const char good[] =
        "{\"remotes\":{\"ci\":{\"url\":\"https://h:8443/\",\"token\":\"" TOKEN
        "\",\"fingerprint\":\"" FP "\"},\"ca\":{\"url\":\"https://h\",\"token\":\"" TOKEN
        "\",\"client_cert\":\"/c\",\"client_key\":\"/k\"}}}";
    struct bg_cli_remotes rs = {0}, back = {0};
    struct bg_error err = {0};

    assert_int_equal(bg_cli_remotes_parse(good, strlen(good), &rs, &err), 0);
    assert_int_equal(rs.n, 2);
    const struct bg_cli_remote *ci = bg_cli_remotes_find(&rs, "ci");
    assert_non_null(ci);
    assert_string_equal(ci->url, "https://h:8443");
    assert_true(ci->pinned);
    assert_false(bg_cli_remotes_find(&rs, "ca")->pinned);
    assert_string_equal(bg_cli_remotes_find(&rs, "ca")->client_key, "/k");
    assert_null(bg_cli_remotes_find(&rs, "nope"));
    char *text = bg_cli_remotes_format(&rs);
    assert_int_equal(bg_cli_remotes_parse(text, strlen(text), &back, &err), 0);
    assert_int_equal(back.n, 2);
    assert_memory_equal(bg_cli_remotes_find(&back, "ci")->fingerprint, ci->fingerprint,
                        BG_FINGERPRINT_BYTES);
    free(text);
    assert_true(bg_cli_remotes_remove(&back, "ci"));
    assert_false(bg_cli_remotes_remove(&back, "ci"));
    assert_int_equal(back.n, 1);
    bg_cli_remotes_done(&back);
    bg_cli_remotes_done(&rs);
}

static void test_remotes_file_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text, *fragment;
    } cases[] = {
        {"", "not a JSON object"},
        {"[]", "not a JSON object"},
        {"{\"remotes\":{}", "not a JSON object"},
        {"{}", "'remotes' must be an object"},
        {"{\"remotes\":[]}", "'remotes' must be an object"},
        {"{\"remotes\":{},\"extra\":1}", "unknown member 'extra'"},
        {"{\"remotes\":{\"Bad\":{}}}", "'Bad' is not a remote name"},
        {"{\"remotes\":{\"ci\":1}}", "remote 'ci' is not an object"},
        {"{\"remotes\":{\"ci\":{}}}", "needs 'url' and 'token'"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\"}}}", "needs 'url' and 'token'"},
        {"{\"remotes\":{\"ci\":{\"url\":1,\"token\":\"" TOKEN "\"}}}",
         "'url' must be a non-empty string"},
        {"{\"remotes\":{\"ci\":{\"url\":\"\",\"token\":\"" TOKEN "\"}}}", "non-empty string"},
        {"{\"remotes\":{\"ci\":{\"url\":\"http://h\",\"token\":\"" TOKEN "\"}}}",
         "not an https:// URL"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\",\"token\":\"bgr_secret\"}}}",
         "its token is not valid"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\",\"token\":\"" TOKEN
         "\",\"fingerprint\":\"ab\"}}}",
         "fingerprint is 64"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\",\"token\":\"" TOKEN
         "\",\"client_cert\":\"/c\"}}}",
         "'client_cert' and 'client_key' go together"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\",\"token\":\"" TOKEN "\",\"user\":\"x\"}}}",
         "unknown member 'user'"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\",\"token\":\"tok\\u0000en\"}}}",
         "not a JSON object (line 1"},
        {"{\"remotes\":{\"ci\":{\"url\":\"https://h\",\"token\":\"" TOKEN "\"}},\"remotes\":{}}",
         "not a JSON object"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_cli_remotes rs = {0};
        struct bg_error err = {0};
        int r = bg_cli_remotes_parse(cases[i].text, strlen(cases[i].text), &rs, &err);
        if (r != -EINVAL || !strstr(err.msg, cases[i].fragment))
            fail_msg("case %zu: got %d '%s', want '%s'", i, r, err.msg, cases[i].fragment);
        assert_null(strstr(err.msg, "aaaaaaaa")); /* a token is never repeated */
        assert_int_equal(rs.n, 0);
    }
}

static void test_remotes_load_save(void **state)
{
    (void)state;
    bg_autofree char *path = bg_asprintf("%s/cfg/banger/remotes.json", bg_test_dir());
    struct bg_cli_remotes rs = {0}, back = {0};
    struct bg_cli_remote r = {0};
    struct bg_error err = {0};
    struct stat st;

    assert_int_equal(bg_cli_remotes_load(path, &rs, &err), 0); /* none yet */
    assert_int_equal(rs.n, 0);
    r.name = bg_strdup("ci");
    r.url = bg_strdup("https://h:1");
    r.token = bg_strdup(TOKEN);
    bg_cli_remotes_add_take(&rs, &r);
    assert_null(r.name);
    assert_int_equal(bg_cli_remotes_save(path, &rs, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(bg_cli_remotes_load(path, &back, &err), 0);
    assert_string_equal(back.list[0].token, TOKEN);
    bg_cli_remotes_done(&back);
    assert_int_equal(chmod(path, 0640), 0);
    assert_err(bg_cli_remotes_load(path, &back, &err), err, -EPERM, "others may read it");
    assert_int_equal(chmod(path, 0600), 0);
    free(bg_test_write_file(path, "{", 1));
    assert_int_equal(chmod(path, 0600), 0);
    assert_err(bg_cli_remotes_load(path, &back, &err), err, -EINVAL, "the remotes file");
    bg_cli_remotes_done(&rs);
}

static void test_token_file(void **state)
{
    (void)state;
    static const struct {
        const char *content;
        const char *fragment; /* NULL: TOKEN is read */
    } cases[] = {
        {TOKEN, NULL},
        {TOKEN "\n", NULL},
        {"  " TOKEN "  \r\nsecond line\n", NULL},
        {"", "does not hold a banger token"},
        {"\n" TOKEN, "does not hold a banger token"},
        {"bgr_x\n", "does not hold a banger token"},
    };
    bg_autofree char *path = bg_asprintf("%s/token", bg_test_dir());

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        char *got = NULL;
        struct bg_error err = {0};
        free(bg_test_write_file(path, cases[i].content, strlen(cases[i].content)));
        int r = bg_cli_remote_token_read(path, &got, &err);
        if (!cases[i].fragment) {
            assert_int_equal(r, 0);
            assert_string_equal(got, TOKEN);
            free(got);
            continue;
        }
        assert_err(r, err, -EINVAL, cases[i].fragment);
        assert_null(strstr(err.msg, "aaaaaaaa"));
    }
    char *got = NULL;
    struct bg_error err = {0};
    assert_err(bg_cli_remote_token_read("/nonexistent/token", &got, &err), err, -ENOENT,
               "read the token file");
}

/* --remote, then BANGER_HOST, then BANGER_REMOTE; --socket and --system are the socket. */
static void test_resolve(void **state)
{
    (void)state;
    bg_autofree char *cfg = bg_asprintf("%s/xdg", bg_test_dir());
    bg_autofree char *file = bg_asprintf("%s/banger/remotes.json", cfg);
    static const char text[] = "{\"remotes\":{\"far\":{\"url\":\"https://far:1\",\"token\":\"" TOKEN
                               "\",\"fingerprint\":\"" FP "\"}}}";
    struct bg_cli_remote r = {0};
    struct bg_cli_args a;
    struct bg_error err = {0};

    setenv("XDG_CONFIG_HOME", cfg, 1);
    unsetenv("BANGER_HOST");
    unsetenv("BANGER_REMOTE");
    struct bg_cli_remotes none = {0};
    assert_int_equal(bg_cli_remotes_save(file, &none, &err), 0);
    free(bg_test_write_file(file, text, strlen(text)));
    assert_int_equal(chmod(file, 0600), 0);

    assert_int_equal(PARSE(&a, &err, "vm", "ls"), 0);
    assert_int_equal(bg_cli_remote_resolve(&a, &r, &err), 0);
    assert_int_equal(PARSE(&a, &err, "--remote", "far", "vm", "ls"), 0);
    assert_int_equal(bg_cli_remote_resolve(&a, &r, &err), 1);
    assert_string_equal(r.url, "https://far:1");
    assert_true(r.pinned);
    bg_cli_remote_done(&r);
    assert_int_equal(PARSE(&a, &err, "--remote", "near", "vm", "ls"), 0);
    assert_err(bg_cli_remote_resolve(&a, &r, &err), err, -ENOENT, "no remote named 'near'");

    setenv("BANGER_HOST", "https://ci:9", 1);
    setenv("BANGER_TOKEN", TOKEN, 1);
    unsetenv("BANGER_FINGERPRINT");
    assert_int_equal(PARSE(&a, &err, "vm", "ls"), 0);
    assert_int_equal(bg_cli_remote_resolve(&a, &r, &err), 1);
    assert_string_equal(r.url, "https://ci:9");
    assert_false(r.pinned);
    bg_cli_remote_done(&r);
    setenv("BANGER_FINGERPRINT", "nope", 1);
    assert_err(bg_cli_remote_resolve(&a, &r, &err), err, -EINVAL, "BANGER_FINGERPRINT");
    unsetenv("BANGER_FINGERPRINT");
    setenv("BANGER_TOKEN", "secret", 1);
    assert_err(bg_cli_remote_resolve(&a, &r, &err), err, -EINVAL, "BANGER_TOKEN");
    unsetenv("BANGER_TOKEN");
    assert_err(bg_cli_remote_resolve(&a, &r, &err), err, -EINVAL, "BANGER_HOST needs BANGER_TOKEN");
    setenv("BANGER_CLIENT_CERT", "/c", 1);
    setenv("BANGER_TOKEN", TOKEN, 1);
    assert_err(bg_cli_remote_resolve(&a, &r, &err), err, -EINVAL, "go together");
    unsetenv("BANGER_CLIENT_CERT");
    /* the socket flags win over the environment */
    assert_int_equal(PARSE(&a, &err, "--socket", "/s", "vm", "ls"), 0);
    assert_int_equal(bg_cli_remote_resolve(&a, &r, &err), 0);
    unsetenv("BANGER_HOST");
    setenv("BANGER_REMOTE", "far", 1);
    assert_int_equal(PARSE(&a, &err, "vm", "ls"), 0);
    assert_int_equal(bg_cli_remote_resolve(&a, &r, &err), 1);
    assert_string_equal(r.name, "far");
    bg_cli_remote_done(&r);
    unsetenv("BANGER_REMOTE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_and_remote_args),
        cmocka_unit_test(test_token_and_remote_refusals),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_remotes_file),
        cmocka_unit_test(test_remotes_file_refusals),
        cmocka_unit_test(test_remotes_load_save),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
