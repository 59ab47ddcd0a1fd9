/* SPDX-License-Identifier: MIT */
/* Unit tests for client/sshconfig.c and client/sshkeys.c: the Include in ~/.ssh/config (a
 * table of configs as users have them), banger's ssh options, known_hosts, the host keys
 * header, and the files themselves. */
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

#include "banger/alloc.h"
#include "filetext.h"
#include "sshconfig.h"
#include "sshkeys.h"
#include "testutil.h"

#define PATH "/home/me/.config/banger/ssh/config"
#define INCLUDE "Include \"" PATH "\""
#define BLOCK BG_CLI_SSHCONFIG_MARK "\n" INCLUDE "\n"
#define ED25519 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBYxC0YO5+XzMXWqzjbc20S3LfygbZDupu18tFW6duk"
#define ECDSA                                                                                      \
    "ecdsa-sha2-nistp256 "                                                                         \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHUCdp/npSMg9JWTl3nT/"                    \
    "KL4sBtWqRqk0ImE2p0oylUka1IYQu6+bb4xHS7EMhR02wI3M93McxSGXCl2cfrYQZk="

/* Configs as they are found, what install makes of them, and uninstall of that gives the
 * original back (NULL: install leaves it as it is). */
static const struct {
    const char *name;
    const char *before;
    const char *installed;
} configs[] = {
    {"empty", "", BLOCK},
    {"other content", "Host example\n    User me\n", BLOCK "Host example\n    User me\n"},
    {"no final newline", "Host x\n  Port 2222", BLOCK "Host x\n  Port 2222"},
    {"a Match block", "Match host *.corp\n  ProxyJump gw\n",
     BLOCK "Match host *.corp\n  ProxyJump gw\n"},
    {"CRLF", "Host a\r\n  User b\r\n", BLOCK "Host a\r\n  User b\r\n"},
    {"other Includes", "Include ~/.ssh/config.d/*\n", BLOCK "Include ~/.ssh/config.d/*\n"},
    {"installed already", BLOCK "Host example\n", NULL},
    {"the Include without the mark", "Host a\n  User b\n" INCLUDE "\n", NULL},
    {"the Include indented, CRLF", "  " INCLUDE "\r\n", NULL},
};

static void test_install_table(void **state)
{
    (void)state;

    for (size_t i = 0; i < BG_ARRAY_SIZE(configs); i++) {
        const char *before = configs[i].before;
        char *out = NULL;
        int r = bg_cli_sshconfig_add(before, strlen(before), PATH, &out);
        if (!configs[i].installed) {
            if (r != 0 || out)
                fail_msg("%s: install changed it", configs[i].name);
            continue;
        }
        if (r != 1 || strcmp(out, configs[i].installed))
            fail_msg("%s: install gave '%s'", configs[i].name, out ? out : "(nothing)");
        /* idempotent */
        char *again = NULL;
        assert_int_equal(bg_cli_sshconfig_add(out, strlen(out), PATH, &again), 0);
        assert_null(again);
        /* reversible, byte for byte */
        char *back = NULL;
        assert_int_equal(bg_cli_sshconfig_remove(out, strlen(out), PATH, &back), 1);
        if (strcmp(back, before))
            fail_msg("%s: uninstall gave '%s'", configs[i].name, back);
        free(back);
        free(out);
    }
}

static void test_uninstall(void **state)
{
    (void)state;
    char *out = NULL;
    const char *mixed = "Host a\n" INCLUDE "\nHost b\n" BG_CLI_SSHCONFIG_MARK "\n";
    const char *other = "Include \"/elsewhere/config\"\n# a comment\n";

    assert_int_equal(bg_cli_sshconfig_remove(mixed, strlen(mixed), PATH, &out), 1);
    assert_string_equal(out, "Host a\nHost b\n");
    free(out);
    assert_int_equal(bg_cli_sshconfig_remove(other, strlen(other), PATH, &out), 0);
    assert_null(out);
    assert_int_equal(bg_cli_sshconfig_remove("", 0, PATH, &out), 0);
    /* another path's Include is not banger's */
    const char *mine_elsewhere = BLOCK;
    assert_int_equal(bg_cli_sshconfig_remove(mine_elsewhere, strlen(mine_elsewhere), "/x", &out),
                     1);
    assert_string_equal(out, INCLUDE "\n"); /* only the mark went */
    free(out);
}

static void test_options(void **state)
{
    (void)state;
    char dir[] = "/h/.config/banger/ssh", key[] = "/h/.config/banger/ssh/id_ed25519",
         kh[] = "/h/.config/banger/ssh/known_hosts", odd_key[] = "/h/%d/key";
    struct bg_cli_ssh_paths p = {.dir = dir, .key = key, .known_hosts = kh};
    struct bg_error err = {0};
    char **opts = NULL;

    assert_int_equal(
        bg_cli_ssh_options(&p, "/usr/bin/banger", "/run/user/1/banger/bangerd.sock", &opts, &err),
        0);
    assert_string_equal(opts[0], "User root");
    assert_string_equal(opts[1], "ProxyCommand '/usr/bin/banger' --socket "
                                 "'/run/user/1/banger/bangerd.sock' ssh-config proxy %n %p");
    assert_string_equal(opts[2], "IdentityFile \"/h/.config/banger/ssh/id_ed25519\"");
    assert_string_equal(opts[3], "IdentitiesOnly yes");
    assert_string_equal(opts[4], "UserKnownHostsFile \"/h/.config/banger/ssh/known_hosts\"");
    assert_string_equal(opts[5], "StrictHostKeyChecking yes");
    assert_string_equal(opts[6], "UpdateHostKeys no");
    assert_null(opts[7]);
    bg_autofree char *file = bg_cli_sshconfig_file(opts);
    assert_non_null(strstr(file, "\nHost *.vm\n    User root\n    ProxyCommand '/usr/bin/banger'"));
    assert_non_null(strstr(file, "    UpdateHostKeys no\n"));
    bg_strv_free(opts);

    const char *bad[] = {"/opt/ban ger'", "/opt/%n",   "/opt/\"x\"",
                         "/opt/b*",       "/opt/a\\b", "/opt/\nx"};
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        opts = NULL;
        assert_err(bg_cli_ssh_options(&p, bad[i], "/s", &opts, &err), err, -EINVAL,
                   "has a character an ssh config cannot hold");
        assert_null(opts);
    }
    /* spaces are fine inside the quotes */
    assert_int_equal(bg_cli_ssh_options(&p, "/opt/my banger/banger", "/s", &opts, &err), 0);
    bg_strv_free(opts);
    p.key = odd_key;
    assert_err(bg_cli_ssh_options(&p, "/b", "/s", &opts, &err), err, -EINVAL, "the ssh key");
}

static char ed25519[] = ED25519, ecdsa[] = ECDSA;

static void test_known_hosts(void **state)
{
    (void)state;
    char *const one[] = {ed25519, NULL};
    char *const two[] = {ed25519, ecdsa, NULL};
    const struct {
        const char *name, *before, *host;
        char *const *keys;
        const char *after;
    } cases[] = {
        {"empty", "", "web.vm", one, "web.vm " ED25519 "\n"},
        {"replaced", "web.vm " ECDSA "\nother.vm " ECDSA "\n", "web.vm", one,
         "other.vm " ECDSA "\nweb.vm " ED25519 "\n"},
        {"two keys", "web.vm " ECDSA "\n", "web.vm", two, "web.vm " ED25519 "\nweb.vm " ECDSA "\n"},
        {"in a list", "a.vm,web.vm,b.vm " ECDSA "\n", "web.vm", one,
         "a.vm,b.vm " ECDSA "\nweb.vm " ED25519 "\n"},
        {"a longer name is another host", "web.vm2 " ECDSA "\nxweb.vm " ECDSA "\n", "web.vm", one,
         "web.vm2 " ECDSA "\nxweb.vm " ECDSA "\nweb.vm " ED25519 "\n"},
        {"a port", "[web.vm]:2222 " ECDSA "\nweb.vm " ECDSA "\n", "[web.vm]:2222", one,
         "web.vm " ECDSA "\n[web.vm]:2222 " ED25519 "\n"},
        {"hashed, marked, comments kept",
         "|1|abc=|def= " ECDSA "\n@revoked web.vm " ECDSA "\n# web.vm\n\n", "web.vm", one,
         "|1|abc=|def= " ECDSA "\n@revoked web.vm " ECDSA "\n# web.vm\n\nweb.vm " ED25519 "\n"},
        {"no final newline", "other.vm " ECDSA, "web.vm", one,
         "other.vm " ECDSA "\nweb.vm " ED25519 "\n"},
    };

    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        bg_autofree char *out = bg_cli_known_hosts_set(cases[i].before, strlen(cases[i].before),
                                                       cases[i].host, cases[i].keys);
        if (strcmp(out, cases[i].after))
            fail_msg("%s: got '%s'", cases[i].name, out);
    }
}

static void test_host_names(void **state)
{
    (void)state;
    char buf[64];

    bg_cli_ssh_host_name("web1", 22, buf, sizeof(buf));
    assert_string_equal(buf, "web1.vm");
    bg_cli_ssh_host_name("web1", 2222, buf, sizeof(buf));
    assert_string_equal(buf, "[web1.vm]:2222");
}

static void test_host_keys_header(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char **keys = NULL;

    assert_int_equal(bg_cli_ssh_host_keys_parse(ED25519 ", " ECDSA, &keys, &err), 0);
    assert_string_equal(keys[0], ED25519);
    assert_string_equal(keys[1], ECDSA);
    assert_null(keys[2]);
    bg_strv_free(keys);
    assert_int_equal(bg_cli_ssh_host_keys_parse(ED25519, &keys, &err), 0);
    assert_null(keys[1]);
    bg_strv_free(keys);
    const char *bad[] = {"", ED25519 ",", "," ED25519, "ssh-ed25519 AAAA", ED25519 " comment"};
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        keys = NULL;
        int r = bg_cli_ssh_host_keys_parse(bad[i], &keys, &err);
        if (r != -EPROTO || err.code != -EPROTO || keys)
            fail_msg("header %zu '%s' taken: %d %s", i, bad[i], r, err.msg);
    }
}

/* The files: known_hosts written 0600 and only when it changes; a config behind a symbolic
 * link is replaced where the link points, the link kept. */
static void test_files(void **state)
{
    (void)state;
    char *const one[] = {ed25519, NULL};
    struct bg_cli_ssh_paths p = {0};
    struct bg_error err = {0};
    struct stat st;
    size_t len;

    assert_int_equal(setenv("XDG_CONFIG_HOME", bg_test_dir(), 1), 0);
    assert_int_equal(bg_cli_ssh_paths_get(&p, true, &err), 0);
    bg_autofree char *want = bg_asprintf("%s/banger/ssh", bg_test_dir());
    assert_string_equal(p.dir, want);
    assert_int_equal(stat(p.dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(bg_cli_known_hosts_update(&p, "web.vm", one, &err), 0);
    bg_autofree char *text = bg_test_slurp(p.known_hosts, &len);
    assert_string_equal(text, "web.vm " ED25519 "\n");
    assert_int_equal(stat(p.known_hosts, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    struct timespec before = st.st_mtim;
    ino_t ino = st.st_ino;
    assert_int_equal(bg_cli_known_hosts_update(&p, "web.vm", one, &err), 0);
    assert_int_equal(stat(p.known_hosts, &st), 0);
    assert_int_equal(st.st_ino, ino); /* not rewritten */
    assert_int_equal(st.st_mtim.tv_nsec, before.tv_nsec);

    bg_autofree char *target = bg_asprintf("%s/dotfiles-config", bg_test_dir());
    bg_autofree char *link = bg_asprintf("%s/config-link", bg_test_dir());
    bg_autofree char *w = bg_test_write_file(target, "old\n", 4);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(bg_cli_file_replace(link, "new\n", 4, 0640, &err), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    bg_autofree char *got = bg_test_slurp(target, &len);
    assert_string_equal(got, "new\n");
    assert_int_equal(stat(target, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    char *missing = NULL;
    assert_err(bg_cli_file_read("/nonexistent/x", 10, &missing, &len, &err), err, -ENOENT,
               "/nonexistent/x");
    assert_err(bg_cli_file_read(target, 2, &missing, &len, &err), err, -EFBIG,
               "longer than 2 bytes");
    bg_cli_ssh_paths_done(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_install_table), cmocka_unit_test(test_uninstall),
        cmocka_unit_test(test_options),       cmocka_unit_test(test_known_hosts),
        cmocka_unit_test(test_host_names),    cmocka_unit_test(test_host_keys_header),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
