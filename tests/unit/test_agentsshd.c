/* SPDX-License-Identifier: MIT */
/* Unit tests for agent/sshd.c: authorized_keys, the host keys reported, and the per-VM host
 * keys made at the first boot (with a stand-in for ssh-keygen), under a temporary root. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* The agent is its own static program, not part of a library the tests link: compile its
 * ssh module into this test. */
#include "../../agent/sshd.c"

#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"
#define ECDSA                                                                                      \
    "ecdsa-sha2-nistp256 "                                                                         \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHUCdp/npSMg9JWTl3nT/"                    \
    "KL4sBtWqRqk0ImE2p0oylUka1IYQu6+bb4xHS7EMhR02wI3M93McxSGXCl2cfrYQZk="

/* A fresh root under the group's directory. */
static char *new_root(const char *name)
{
    char *root = bg_asprintf("%s/%s", bg_test_dir(), name);
    assert_int_equal(mkdir(root, 0755), 0);
    return root;
}

static char *slurp(const char *root, const char *rel)
{
    bg_autofree char *path = bg_asprintf("%s%s", root, rel);
    size_t len;
    return bg_test_slurp(path, &len);
}

static void put(const char *root, const char *rel, const char *text)
{
    bg_autofree char *path = bg_asprintf("%s%s", root, rel);
    bg_autofree char *p = bg_test_write_file(path, text, strlen(text));
}

static void test_authorize(void **state)
{
    (void)state;
    bg_autofree char *root = new_root("auth1");
    struct bg_error err = {0};
    struct stat st;

    assert_int_equal(bg_sshd_authorize(root, ED25519, &err), 0);
    bg_autofree char *text = slurp(root, "/root/.ssh/authorized_keys");
    assert_string_equal(text, ED25519 " banger\n");
    bg_autofree char *dir = bg_asprintf("%s/root/.ssh", root);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    bg_autofree char *file = bg_asprintf("%s/authorized_keys", dir);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    ino_t ino = st.st_ino;
    /* there already: left alone */
    assert_int_equal(bg_sshd_authorize(root, ED25519, &err), 0);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_ino, ino);
    /* another key: added after what is there */
    assert_int_equal(bg_sshd_authorize(root, ECDSA, &err), 0);
    bg_autofree char *two = slurp(root, "/root/.ssh/authorized_keys");
    assert_string_equal(two, ED25519 " banger\n" ECDSA " banger\n");
}

/* The user's own lines stay as they are; a key already there under another comment counts. */
static void test_authorize_keeps_lines(void **state)
{
    (void)state;
    bg_autofree char *root = new_root("auth2");
    struct bg_error err = {0};

    bg_autofree char *dir = bg_asprintf("%s/root/.ssh", root);
    bg_autofree char *home = bg_asprintf("%s/root", root);
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    put(root, "/root/.ssh/authorized_keys", "# mine\n" ECDSA " me@laptop");
    assert_int_equal(bg_sshd_authorize(root, ED25519, &err), 0);
    bg_autofree char *text = slurp(root, "/root/.ssh/authorized_keys");
    assert_string_equal(text, "# mine\n" ECDSA " me@laptop\n" ED25519 " banger\n");
    assert_int_equal(bg_sshd_authorize(root, ECDSA, &err), 0);
    bg_autofree char *same = slurp(root, "/root/.ssh/authorized_keys");
    assert_string_equal(same, text);
    /* a line with options is another entry: the plain key is added */
    put(root, "/root/.ssh/authorized_keys", "no-pty " ED25519 "\n");
    assert_int_equal(bg_sshd_authorize(root, ED25519, &err), 0);
    bg_autofree char *opts = slurp(root, "/root/.ssh/authorized_keys");
    assert_string_equal(opts, "no-pty " ED25519 "\n" ED25519 " banger\n");
}

static void test_authorize_refusals(void **state)
{
    (void)state;
    bg_autofree char *root = new_root("auth3");
    struct bg_error err = {0};

    assert_err(bg_sshd_authorize(root, "ssh-ed25519 AAAA", &err), err, -EINVAL, "ssh key");
    assert_err(bg_sshd_authorize(root, ED25519 " comment", &err), err, -EINVAL, "ssh key");
    bg_autofree char *ak = bg_asprintf("%s/root/.ssh/authorized_keys", root);
    assert_int_equal(access(ak, F_OK), -1);
    /* authorized_keys a directory: said, not crashed on */
    bg_autofree char *home = bg_asprintf("%s/root", root);
    bg_autofree char *dir = bg_asprintf("%s/root/.ssh", root);
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(ak, 0700), 0);
    assert_err(bg_sshd_authorize(root, ED25519, &err), err, -EISDIR, "authorize the key");
    /* no root */
    assert_err(bg_sshd_authorize("/nonexistent/root", ED25519, &err), err, -ENOENT,
               "authorize the key: mkdir /nonexistent/root");
}

static void test_host_keys(void **state)
{
    (void)state;
    bg_autofree char *root = new_root("keys1");
    struct bg_error err = {0};
    json_t *keys = NULL;

    assert_err(bg_sshd_host_keys(root, &keys, &err), err, -ENOENT, "no ssh host keys in");
    bg_autofree char *etc = bg_asprintf("%s/etc", root);
    bg_autofree char *ssh = bg_asprintf("%s/etc/ssh", root);
    assert_int_equal(mkdir(etc, 0755), 0);
    assert_int_equal(mkdir(ssh, 0755), 0);
    put(root, "/etc/ssh/ssh_host_ed25519_key.pub", ED25519 " root@guest\n");
    put(root, "/etc/ssh/ssh_host_ecdsa_key.pub", "not a key\n");
    put(root, "/etc/ssh/ssh_host_rsa_key.pub", "");
    assert_int_equal(bg_sshd_host_keys(root, &keys, &err), 0);
    assert_int_equal(json_array_size(keys), 1);
    assert_string_equal(json_string_value(json_array_get(keys, 0)), ED25519);
    json_decref(keys);
    put(root, "/etc/ssh/ssh_host_ecdsa_key.pub", ECDSA "\n");
    assert_int_equal(bg_sshd_host_keys(root, &keys, &err), 0);
    assert_int_equal(json_array_size(keys), 2);
    assert_string_equal(json_string_value(json_array_get(keys, 1)), ECDSA);
    json_decref(keys);
}

/* A stand-in for ssh-keygen: writes KEY and KEY.pub for -f KEY and counts its runs; exits
 * with $1's status when the root holds a file named "keygen-fails". */
static char *fake_keygen(const char *root)
{
    bg_autofree char *script =
        bg_asprintf("#!/bin/sh\n"
                    "[ -e '%s/keygen-fails' ] && exit 3\n"
                    "while [ $# -gt 0 ]; do [ \"$1\" = -f ] && f=$2; shift; done\n"
                    "echo run >>'%s/keygen-runs'\n"
                    "echo private >\"$f\"\n"
                    "echo '" ED25519 " root@new' >\"$f.pub\"\n",
                    root, root);
    char *path = bg_asprintf("%s/keygen", root);
    bg_autofree char *p = bg_test_write_file(path, script, strlen(script));
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static int runs(const char *root)
{
    bg_autofree char *path = bg_asprintf("%s/keygen-runs", root);
    int n = 0;
    FILE *f = fopen(path, "r");
    char line[16];

    while (f && fgets(line, sizeof(line), f))
        n++;
    if (f)
        fclose(f);
    return n;
}

static bool exists(const char *root, const char *rel)
{
    bg_autofree char *path = bg_asprintf("%s%s", root, rel);
    return access(path, F_OK) == 0;
}

static void test_host_keys_prepare(void **state)
{
    (void)state;
    bg_autofree char *root = new_root("boot1");
    bg_autofree char *keygen = fake_keygen(root);
    struct bg_error err = {0};

    bg_autofree char *etc = bg_asprintf("%s/etc", root);
    bg_autofree char *ssh = bg_asprintf("%s/etc/ssh", root);
    assert_int_equal(mkdir(etc, 0755), 0);
    assert_int_equal(mkdir(ssh, 0755), 0);
    /* keys that came with the image (no marker): every VM would share them */
    put(root, "/etc/ssh/ssh_host_rsa_key", "image's\n");
    put(root, "/etc/ssh/ssh_host_rsa_key.pub", "image's\n");
    put(root, "/etc/ssh/ssh_host_ed25519_key", "image's\n");
    put(root, "/etc/ssh/sshd_config", "# kept\n");
    assert_int_equal(host_keys_prepare(root, keygen, &err), 0);
    assert_false(exists(root, "/etc/ssh/ssh_host_rsa_key"));
    assert_false(exists(root, "/etc/ssh/ssh_host_rsa_key.pub"));
    bg_autofree char *key = slurp(root, "/etc/ssh/ssh_host_ed25519_key");
    assert_string_equal(key, "private\n");
    assert_true(exists(root, "/etc/ssh/" HOST_KEYS_MARKER));
    assert_true(exists(root, "/etc/ssh/sshd_config"));
    assert_int_equal(runs(root), 1);
    /* the next boot: this VM's keys stay */
    assert_int_equal(host_keys_prepare(root, keygen, &err), 0);
    assert_int_equal(runs(root), 1);
    /* its key gone (the user removed it): a new one, nothing else removed */
    put(root, "/etc/ssh/ssh_host_ecdsa_key", "user's\n");
    bg_autofree char *ed = bg_asprintf("%s/etc/ssh/ssh_host_ed25519_key", root);
    assert_int_equal(unlink(ed), 0);
    assert_int_equal(host_keys_prepare(root, keygen, &err), 0);
    assert_int_equal(runs(root), 2);
    assert_true(exists(root, "/etc/ssh/ssh_host_ecdsa_key"));
    assert_true(exists(root, "/etc/ssh/ssh_host_ed25519_key"));
}

static void test_host_keys_prepare_failures(void **state)
{
    (void)state;
    bg_autofree char *root = new_root("boot2");
    bg_autofree char *keygen = fake_keygen(root);
    struct bg_error err = {0};

    bg_autofree char *etc = bg_asprintf("%s/etc", root);
    bg_autofree char *ssh = bg_asprintf("%s/etc/ssh", root);
    assert_int_equal(mkdir(etc, 0755), 0);
    assert_int_equal(mkdir(ssh, 0755), 0);
    put(root, "/keygen-fails", "");
    assert_err(host_keys_prepare(root, keygen, &err), err, -EIO, "exited with status 3");
    assert_false(exists(root, "/etc/ssh/" HOST_KEYS_MARKER));
    bg_autofree char *missing = bg_asprintf("%s/no-keygen", root);
    assert_err(host_keys_prepare(root, missing, &err), err, -EIO, "exited with status 127");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorize),
        cmocka_unit_test(test_authorize_keeps_lines),
        cmocka_unit_test(test_authorize_refusals),
        cmocka_unit_test(test_host_keys),
        cmocka_unit_test(test_host_keys_prepare),
        cmocka_unit_test(test_host_keys_prepare_failures),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
