/* SPDX-License-Identifier: MIT */
/* Unit tests for server/image/mmdeb.c: subordinate id ranges, the mode and the guidance when
 * it cannot run, its argv, and the progress its output tells. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "image/mmdeb.h"
#include "testutil.h"

static void test_subid_count(void **state)
{
    (void)state;
    static const char subuid[] = "root:100000:65536\n"
                                 "malformed line\n"
                                 "x:1:2:3\n"
                                 ":5:5\n"
                                 "dev:200000:65536\n"
                                 "dev:300000:10\n"
                                 "1001:400000:70000\n"
                                 "big:1:99999999999\n";

    assert_int_equal(bg_mmdeb_subid_count(subuid, "dev", 1000), 65536);
    assert_int_equal(bg_mmdeb_subid_count(subuid, "other", 1001), 70000);
    assert_int_equal(bg_mmdeb_subid_count(subuid, "other", 1002), 0);
    assert_int_equal(bg_mmdeb_subid_count(subuid, "big", 5), 0);
    assert_int_equal(bg_mmdeb_subid_count(subuid, "", 5), 0);
    assert_int_equal(bg_mmdeb_subid_count(NULL, "dev", 1000), 0);
}

static struct bg_mmdeb_host good_host(void)
{
    static const char ids[] = "dev:100000:65536\n";
    struct bg_mmdeb_host h = {.euid = 1000,
                              .user = "dev",
                              .have_mmdebstrap = true,
                              .have_newuidmap = true,
                              .subuid = ids,
                              .subgid = ids,
                              .max_user_namespaces = 15000,
                              .userns_clone = -1,
                              .apparmor_restrict_userns = -1};
    return h;
}

static void test_choose(void **state)
{
    (void)state;
    struct bg_mmdeb_host h = good_host();
    enum bg_mmdeb_mode mode = BG_MMDEB_MODE_ROOT;
    struct bg_error err;

    assert_int_equal(bg_mmdeb_choose(&h, &mode, &err), 0);
    assert_int_equal(mode, BG_MMDEB_MODE_UNSHARE);
    /* root needs none of what a user namespace needs */
    h = (struct bg_mmdeb_host){.euid = 0, .have_mmdebstrap = true, .max_user_namespaces = 0};
    assert_int_equal(bg_mmdeb_choose(&h, &mode, &err), 0);
    assert_int_equal(mode, BG_MMDEB_MODE_ROOT);
    h.have_mmdebstrap = false;
    assert_err(bg_mmdeb_choose(&h, &mode, &err), err, -ENOENT,
               "a dev image is made with mmdebstrap, which is not installed; as root run: "
               "apt-get install mmdebstrap uidmap");
}

/* Each missing piece is named with the command that provides it, all in one message. */
static void test_choose_guidance(void **state)
{
    (void)state;
    static const char others[] = "root:100000:65536\nalice:165536:65536\n";
    struct bg_mmdeb_host h = good_host();
    enum bg_mmdeb_mode mode;
    struct bg_error err;

    h.have_newuidmap = false;
    assert_err(bg_mmdeb_choose(&h, &mode, &err), err, -EPERM,
               "bangerd runs as dev (uid 1000), so mmdebstrap builds the dev image in a user "
               "namespace (unshare mode), which needs newuidmap and newgidmap (as root: apt-get "
               "install uidmap); or run bangerd as root");
    h = good_host();
    h.subuid = others;
    h.subgid = NULL;
    assert_err(bg_mmdeb_choose(&h, &mode, &err), err, -EPERM,
               "at least 65536 subordinate user and group ids for dev (uid 1000) in /etc/subuid "
               "and /etc/subgid (as root: usermod --add-subuids 262144-327679 --add-subgids "
               "262144-327679 dev)");
    h = good_host();
    h.max_user_namespaces = 0;
    h.userns_clone = 0;
    h.apparmor_restrict_userns = 1;
    assert_err(bg_mmdeb_choose(&h, &mode, &err), err, -EPERM,
               "needs user namespaces, which the kernel limits to 0 (as root: sysctl -w "
               "user.max_user_namespaces=15000); unprivileged user namespaces, which this kernel "
               "turns off (as root: sysctl -w kernel.unprivileged_userns_clone=1); AppArmor to "
               "let unprivileged users create user namespaces (as root: sysctl -w "
               "kernel.apparmor_restrict_unprivileged_userns=0)");
    h = good_host();
    h.user = "";
    h.subuid = NULL;
    assert_err(bg_mmdeb_choose(&h, &mode, &err), err, -EPERM,
               "ids for uid 1000 in /etc/subuid and /etc/subgid (as root: usermod --add-subuids "
               "196608-262143 --add-subgids 196608-262143 USER)");
}

static void test_argv(void **state)
{
    (void)state;
    struct bg_mmdeb_plan p = {.suite = "bookworm",
                              .sources = "deb http://m/debian bookworm main\n\n"
                                         "deb http://m/debian-security bookworm-security main\n",
                              .include = "build-essential,git",
                              .debs_in = "/c/rootfs-debs",
                              .debs_out = "/t/it's here",
                              .output = "/t/rootfs.tar"};
    static const char *const want[] = {
        "mmdebstrap",
        "--mode=unshare",
        "--variant=minbase",
        "--format=tar",
        "--verbose",
        "--include=build-essential,git",
        "--aptopt=Acquire::Retries \"3\"",
        "--skip=download/empty",
        "--skip=essential/unlink",
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/",
        "--setup-hook=sync-in '/c/rootfs-debs' /var/cache/apt/archives/",
        "--customize-hook=sync-out /var/cache/apt/archives '/t/it'\"'\"'s here'",
        "--customize-hook=chroot \"$1\" chown _apt:root /var/cache/apt/archives/partial "
        "/var/lib/apt/lists/partial && touch -d \"@$SOURCE_DATE_EPOCH\" "
        "\"$1\"/var/cache/apt/archives/partial \"$1\"/var/lib/apt/lists/partial",
        "--customize-hook=rm -f \"$1\"/etc/ssh/ssh_host_*_key \"$1\"/etc/ssh/ssh_host_*_key.pub",
        "--customize-hook=: >\"$1\"/etc/resolv.conf && echo localhost >\"$1\"/etc/hostname && "
        "printf '127.0.0.1 localhost\\n::1 localhost ip6-localhost ip6-loopback\\n' "
        ">\"$1\"/etc/hosts",
        "bookworm",
        "/t/rootfs.tar",
        "deb http://m/debian bookworm main",
        "deb http://m/debian-security bookworm-security main",
        NULL,
    };
    char **argv = bg_mmdeb_argv(&p);
    size_t i = 0;

    for (; want[i]; i++) {
        assert_non_null(argv[i]);
        assert_string_equal(argv[i], want[i]);
    }
    assert_null(argv[i]);
    bg_strv_free(argv);
}

static void test_size_parse(void **state)
{
    (void)state;
    const struct {
        const char *text;
        uint64_t want;
    } good[] = {{"512 B", 512},
                {"37.6 kB", 37600},
                {"2053 kB", 2053000},
                {"91.7 MB", 91700000},
                {"1.5 GB", 1500000000},
                {"0 B", 0},
                {"1.23456789 MB", 1234567}};
    const char *bad[] = {"",
                         "kB",
                         "1kB",
                         "1 KB",
                         "1.5",
                         "1. MB",
                         ".5 MB",
                         "1 MiB",
                         "-1 B",
                         "1 B ",
                         "99999999999999999 GB"};
    uint64_t v;

    for (size_t i = 0; i < BG_ARRAY_SIZE(good); i++) {
        assert_int_equal(bg_mmdeb_size_parse(good[i].text, &v), 0);
        assert_int_equal(v, good[i].want);
    }
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++)
        if (bg_mmdeb_size_parse(bad[i], &v) != -EINVAL)
            fail_msg("'%s' accepted", bad[i]);
}

/* A run's lines, as mmdebstrap 1.3.5 prints them with --verbose, in chunks that cut lines. */
static void test_progress(void **state)
{
    (void)state;
    static const char out[] =
        "I: running apt-get update...\n"
        "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]\n"
        "I: downloading packages with apt...\n"
        "0 upgraded, 89 newly installed, 0 to remove and 0 not upgraded.\n"
        "Need to get 38.0 MB of archives.\n"
        "Get:1 http://deb.debian.org/debian bookworm/main amd64 gcc-12-base amd64 12.2.0-14 "
        "[37.6 kB]\n"
        "Get:2 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36-9 [2757 kB]\r\n"
        "I: extracting archives...\n"
        "I: installing essential packages...\n"
        "Unpacking base-files (12.4) ...\n"
        "Unpacking bash (5.2) ...\n"
        "Setting up base-files (12.4) ...\n"
        "I: installing remaining packages inside the chroot...\n"
        "0 upgraded, 94 newly installed, 0 to remove and 0 not upgraded.\n"
        "Need to get 0 B/91.7 MB of archives.\n";
    struct bg_mmdeb_progress p = {0};

    for (size_t i = 0; i < sizeof(out) - 1; i += 7)
        bg_mmdeb_feed(&p, out + i, sizeof(out) - 1 - i < 7 ? sizeof(out) - 1 - i : 7);
    assert_int_equal(p.phase, BG_MMDEB_PHASE_DOWNLOAD);
    assert_int_equal(p.bytes_total, 0);
    assert_int_equal(p.bytes_done, 0);
    /* the index (151 kB) is not counted: it is fetched before any "Need to get" */
    assert_int_equal(p.bytes_fetched, 37600 + 2757000);
    assert_int_equal(p.pkgs_total, 94);
    assert_int_equal(p.unpacked, 0);
    assert_true(p.changed);

    p.changed = false;
    bg_mmdeb_progress_line(&p, "Unpacking git (1:2.39.5) ...");
    bg_mmdeb_progress_line(&p, "Setting up git (1:2.39.5) ...");
    bg_mmdeb_progress_line(&p, "Unpacking make (4.3) ...");
    assert_int_equal(p.phase, BG_MMDEB_PHASE_UNPACK);
    assert_int_equal(p.unpacked, 2);
    assert_int_equal(p.configured, 1);
    bg_mmdeb_progress_line(&p, "I: creating tarball...");
    assert_int_equal(p.phase, BG_MMDEB_PHASE_PACK);
    assert_string_equal(bg_mmdeb_phase_name(p.phase), "pack the tree");

    /* what does not parse changes nothing */
    p = (struct bg_mmdeb_progress){.phase = BG_MMDEB_PHASE_DOWNLOAD};
    bg_mmdeb_progress_line(&p, "Get:3 http://x pkg [37.6 kB");
    bg_mmdeb_progress_line(&p, "Get:3 http://x pkg [lots]");
    bg_mmdeb_progress_line(&p, "Need to get lots of archives.");
    bg_mmdeb_progress_line(&p, "Need to get 1 MB");
    bg_mmdeb_progress_line(&p, "x upgraded, many newly installed, 0 to remove");
    bg_mmdeb_progress_line(&p, "0 upgraded, 5 newly installed");
    assert_false(p.changed);
    assert_int_equal(p.bytes_done, 0);
    assert_int_equal(p.pkgs_total, 0);
}

/* A line longer than BG_MMDEB_LINE_MAX is cut, not overflowed, and the next one is whole. */
static void test_feed_long_line(void **state)
{
    (void)state;
    struct bg_mmdeb_progress p = {.phase = BG_MMDEB_PHASE_DOWNLOAD};
    bg_autofree char *junk = bg_malloc(3 * BG_MMDEB_LINE_MAX);
    static const char get[] = "\nGet:1 http://x y [1 kB]\n";

    memset(junk, 'x', 3 * BG_MMDEB_LINE_MAX);
    memcpy(junk, "Unpacking ", 10);
    bg_mmdeb_feed(&p, junk, 3 * BG_MMDEB_LINE_MAX);
    assert_true(p.line_cut);
    assert_int_equal(p.line_len, BG_MMDEB_LINE_MAX);
    bg_mmdeb_feed(&p, get, sizeof(get) - 1);
    assert_int_equal(p.unpacked, 1);
    assert_int_equal(p.bytes_done, 0); /* back in UNPACK: a Get line there is not a download */
    assert_false(p.line_cut);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subid_count),     cmocka_unit_test(test_choose),
        cmocka_unit_test(test_choose_guidance), cmocka_unit_test(test_argv),
        cmocka_unit_test(test_size_parse),      cmocka_unit_test(test_progress),
        cmocka_unit_test(test_feed_long_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
