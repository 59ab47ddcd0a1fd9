/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/sshkey.c: which public keys pass, and the line reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/sshkey.h"
#include "testutil.h"

#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"
#define ECDSA                                                                                      \
    "ecdsa-sha2-nistp256 "                                                                         \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHUCdp/npSMg9JWTl3nT/"                    \
    "KL4sBtWqRqk0ImE2p0oylUka1IYQu6+bb4xHS7EMhR02wI3M93McxSGXCl2cfrYQZk="
#define RSA                                                                                        \
    "ssh-rsa "                                                                                     \
    "AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7BuJGe4OqCduBeAw1GhxyU6VN4CoRXDGw3hWIisI4Pb0bALv53dJJjTE+"     \
    "QJzLjRSATbE9I86h+U6YJmdRO2wZHGwA+yBhXuRVTa5tCKDd5KISzVtF0Rw/06L62YZ56lcy/"                    \
    "58kerK5RMZWQp4FpQz6/fmgRI8hg0mcadLUKq2N1Q=="

static void test_valid(void **state)
{
    (void)state;
    const char *ok[] = {ED25519, ECDSA, RSA};
    struct bg_error err;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (bg_sshkey_validate(ok[i], strlen(ok[i]), &err) < 0)
            fail_msg("key %zu refused: %s", i, err.msg);
}

static void test_malformed(void **state)
{
    (void)state;
    static char long_key[BG_SSHKEY_MAX + 8];
    memset(long_key, 'A', sizeof(long_key) - 1);
    memcpy(long_key, "ssh-rsa ", 8);
    const struct {
        const char *key;
        const char *fragment;
    } bad[] = {
        {"", "not 'TYPE BASE64'"},
        {"ssh-ed25519", "not 'TYPE BASE64'"},
        {"ssh-dss AAAAB3NzaC1kc3M=", "unknown key type"},
        {"SSH-ED25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5", "unknown key type"},
        {ED25519 " comment", "not base64"},
        {ED25519 "\n", "not base64"},
        {"ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk",
         "not base64"},
        {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6du",
         "not base64"}, /* a length that is not a multiple of 4 */
        {"ssh-ed25519 AAAA=AAA", "not base64"},
        {"ssh-ed25519 AAAAC3Nz!C1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk",
         "not base64"},
        /* ECDSA with the unused bits before its padding set */
        {"ecdsa-sha2-nistp256 "
         "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHUCdp/npSMg9JWTl3"
         "nT/KL4sBtWqRqk0ImE2p0oylUka1IYQu6+bb4xHS7EMhR02wI3M93McxSGXCl2cfrYQZl=",
         "not base64"},
        {"ssh-ed25519 AAA=", "not a ssh-ed25519 key"},
        {"ssh-ed25519 AAAA", "not a ssh-ed25519 key"},
        {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "not a ssh-ed25519 key"}, /* the name alone */
        /* the name and a key of 3 bytes */
        {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAwECAw==", "not a ssh-ed25519 key"},
        {"ssh-ed25519 AAAAB3NzaC1yc2EAAAABAQ==", "not a ssh-ed25519 key"},
        {"ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk",
         "not a ssh-rsa key"},
        {"ssh-ed25519 /////w==", "not a ssh-ed25519 key"}, /* a type length of 4 GiB */
        {long_key, "longer than 4096 bytes"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_error e = {0};
        int r = bg_sshkey_validate(bad[i].key, strlen(bad[i].key), &e);
        if (r != -EINVAL || e.code != -EINVAL || !strstr(e.msg, bad[i].fragment))
            fail_msg("case %zu: %d '%s' lacks '%s'", i, r, e.msg, bad[i].fragment);
    }
}

/* The length says where the key ends, not a NUL. */
static void test_length_bounds(void **state)
{
    (void)state;
    struct bg_error err;

    assert_int_equal(bg_sshkey_validate(ED25519 "trailing", strlen(ED25519), &err), 0);
    assert_err(bg_sshkey_validate(ED25519, strlen(ED25519) - 4, &err), err, -EINVAL,
               "not a ssh-ed25519 key");
    /* RSA and ECDSA cut short, or with bytes after their last field */
    assert_err(bg_sshkey_validate(RSA, strlen(RSA) - 4, &err), err, -EINVAL, "not a ssh-rsa key");
    assert_err(bg_sshkey_validate(ECDSA "AAAA", strlen(ECDSA) - 4, &err), err, -EINVAL, "");
}

static void test_from_line(void **state)
{
    (void)state;
    char buf[BG_SSHKEY_MAX + 1], small[32];
    struct bg_error err = {.code = 1, .msg = "untouched"};
    const char *lines[] = {
        ED25519 " root@guest\n",
        ED25519 "\n",
        "  " ED25519 "\tcomment with spaces\r\n",
        ED25519,
        "ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk x",
    };

    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (bg_sshkey_from_line(lines[i], strlen(lines[i]), buf, sizeof(buf), &err) < 0)
            fail_msg("line %zu: %s", i, err.msg);
        assert_string_equal(buf, ED25519);
    }
    assert_string_equal(err.msg, "untouched");
    strcpy(small, "untouched");
    assert_err(bg_sshkey_from_line(ED25519, strlen(ED25519), small, sizeof(small), &err), err,
               -EINVAL, "longer than 31 bytes");
    assert_string_equal(small, "untouched");
    const char *bad[] = {"", "\n", "ssh-ed25519\n", "from=\"x\" " ED25519, "# a comment"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(bg_sshkey_from_line(bad[i], strlen(bad[i]), buf, sizeof(buf), &err),
                         -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_length_bounds),
        cmocka_unit_test(test_from_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
