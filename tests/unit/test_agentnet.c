/* SPDX-License-Identifier: MIT */
/* Unit tests for agent/net.c: the kernel command line's network words, resolv.conf and the
 * /etc/hosts line of the VM's own name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The agent is its own static program, not part of a library the tests link: compile its
 * network module and the command-line words it reads into this test (only the pure parts are
 * exercised). */
#include "../../agent/cmdline.c"
#include "../../agent/net.c"

/* What server/vm/initrd.c writes for a VM named web1 (with a rootfs and a work disk). */
#define DAEMON_CMDLINE                                                                             \
    "console=ttyS0 panic=-1 tsc_early_khz=2000000 banger.root=/dev/vda "                           \
    "banger.overlay=/dev/vdb banger.work=/dev/vdc banger.net=user banger.ip=10.0.2.15/24 "         \
    "banger.gw=10.0.2.2 banger.dns=10.0.2.3 banger.hostname=web1\n"

static void test_daemon_cmdline(void **state)
{
    struct bg_net_config c;
    struct bg_error err = {.code = 7, .msg = "untouched"};

    (void)state;
    assert_int_equal(bg_net_config_parse(DAEMON_CMDLINE, &c, &err), 0);
    assert_true(c.configured);
    assert_string_equal(inet_ntoa(c.addr), "10.0.2.15");
    assert_int_equal(c.prefix, 24);
    assert_true(c.has_gw);
    assert_string_equal(inet_ntoa(c.gw), "10.0.2.2");
    assert_int_equal(c.dns_count, 1);
    assert_string_equal(inet_ntoa(c.dns[0]), "10.0.2.3");
    assert_string_equal(c.hostname, "web1");
    assert_int_equal(err.code, 7);
}

static void test_no_network(void **state)
{
    struct bg_net_config c;

    (void)state;
    assert_int_equal(bg_net_config_parse("console=ttyS0 banger.hostname=a", &c, NULL), 0);
    assert_false(c.configured);
    assert_false(c.has_gw);
    assert_int_equal(c.dns_count, 0);
    assert_string_equal(c.hostname, "a");
    assert_int_equal(bg_net_config_parse("", &c, NULL), 0);
    assert_false(c.configured);
    assert_string_equal(c.hostname, "");
}

static void test_good_variants(void **state)
{
    struct bg_net_config c;

    (void)state;
    /* three servers, /32 without a gateway, a look-alike key that is not ours */
    assert_int_equal(bg_net_config_parse("banger.ip=192.168.1.7/32 banger.dns=1.1.1.1,8.8.8.8,"
                                         "9.9.9.9 banger.ipx=junk",
                                         &c, NULL),
                     0);
    assert_int_equal(c.prefix, 32);
    assert_false(c.has_gw);
    assert_int_equal(c.dns_count, 3);
    assert_string_equal(inet_ntoa(c.dns[2]), "9.9.9.9");
}

static void test_bad(void **state)
{
    static const struct {
        const char *cmdline;
        const char *fragment;
    } bad[] = {
        {"banger.ip=10.0.2.15", "not ADDRESS/PREFIX"},
        {"banger.ip=10.0.2.15/", "prefix '' is not in 1..32"},
        {"banger.ip=10.0.2.15/0", "prefix '0' is not in 1..32"},
        {"banger.ip=10.0.2.15/33", "prefix '33'"},
        {"banger.ip=10.0.2.15/+4", "prefix '+4'"},
        {"banger.ip=10.0.2.15/24x", "prefix '24x'"},
        {"banger.ip=10.0.2/24", "'10.0.2' is not an IPv4 address"},
        {"banger.ip=10.0.2.256/24", "is not an IPv4 address"},
        {"banger.ip=010.0.2.15/24", "is not an IPv4 address"},
        {"banger.ip=10.0.2.15 /24", "not ADDRESS/PREFIX"},
        {"banger.ip=/24", "'' is not an IPv4 address"},
        {"banger.ip=0.0.0.0/8", "not a host address"},
        {"banger.ip=10.0.2.0/24", "not a host address"},
        {"banger.ip=10.0.2.255/24", "not a host address"},
        {"banger.ip=10.0.2.15/24 banger.ip=10.0.2.16/24", "banger.ip= is given twice"},
        {"banger.gw=10.0.2.2", "need banger.ip="},
        {"banger.dns=10.0.2.3", "need banger.ip="},
        {"banger.ip=10.0.2.15/24 banger.gw=10.0.3.2", "banger.gw: 10.0.3.2 is not another"},
        {"banger.ip=10.0.2.15/24 banger.gw=10.0.2.15", "is not another address"},
        {"banger.ip=10.0.2.15/24 banger.gw=gateway", "'gateway' is not an IPv4 address"},
        {"banger.ip=10.0.2.15/24 banger.dns=", "has an empty entry"},
        {"banger.ip=10.0.2.15/24 banger.dns=1.1.1.1,", "has an empty entry"},
        {"banger.ip=10.0.2.15/24 banger.dns=1.1.1.1,,2.2.2.2", "has an empty entry"},
        {"banger.ip=10.0.2.15/24 banger.dns=1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4", "more than 3"},
        {"banger.ip=10.0.2.15/24 banger.dns=::1", "'::1' is not an IPv4 address"},
        {"banger.hostname=", "is not a host name"},
        {"banger.hostname=-web", "is not a host name"},
        {"banger.hostname=web-", "is not a host name"},
        {"banger.hostname=a.b", "is not a host name"},
        {"banger.hostname=web1 banger.hostname=web2", "banger.hostname= is given twice"},
        {"banger.hostname=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "at most 63"},
        {"banger.dns=255.255.255.255,255.255.255.255,255.255.255.255,255.255.255.255,"
         "255.255.255.255,255.255.255.255,255.255.255.255,255.255.255.255,255.255.255.255",
         "banger.dns= is longer than 128 bytes"},
    };

    (void)state;
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        struct bg_net_config c = {.prefix = 99};
        struct bg_error err = {0};
        int r = bg_net_config_parse(bad[i].cmdline, &c, &err);
        if (r != -EINVAL || err.code != -EINVAL || !strstr(err.msg, bad[i].fragment))
            fail_msg("'%s': returned %d, message '%s', want '%s'", bad[i].cmdline, r, err.msg,
                     bad[i].fragment);
        assert_int_equal(c.prefix, 99); /* *ret is written only on success */
    }
}

static void test_resolv_format(void **state)
{
    struct bg_net_config c;
    char buf[256], tiny[40];

    (void)state;
    assert_int_equal(
        bg_net_config_parse("banger.ip=10.0.2.15/24 banger.dns=10.0.2.3,1.1.1.1", &c, NULL), 0);
    assert_int_equal(bg_net_resolv_format(&c, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "# written by banger-agent from banger.dns=\n"
                             "nameserver 10.0.2.3\n"
                             "nameserver 1.1.1.1\n");
    assert_int_equal(bg_net_resolv_format(&c, tiny, sizeof(tiny)), -ENOSPC);
    assert_int_equal(bg_net_resolv_format(&c, buf, 0), -ENOSPC);
    assert_int_equal(bg_net_config_parse("banger.ip=10.0.2.15/24", &c, NULL), 0);
    assert_int_equal(bg_net_resolv_format(&c, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

static void expect_hosts(const char *old, const char *name, const char *want)
{
    char *got = NULL;

    bg_net_hosts_update(old, old ? strlen(old) : 0, name, &got);
    if (!want) {
        if (got)
            fail_msg("'%s' for %s: got '%s', want it left as it is", old, name, got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_hosts_update(void **state)
{
    (void)state;
    /* none: localhost and the name */
    expect_hosts(NULL, "web1",
                 "# written by banger-agent\n127.0.0.1\tlocalhost\n"
                 "::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tweb1\n");
    /* a rootfs's own file keeps every line and gains one */
    expect_hosts("127.0.0.1 localhost\n10.0.0.9 db.lan db\n", "web1",
                 "127.0.0.1 localhost\n10.0.0.9 db.lan db\n127.0.1.1\tweb1\n");
    expect_hosts("127.0.0.1 localhost", "web1", "127.0.0.1 localhost\n127.0.1.1\tweb1\n");
    expect_hosts("", "web1", "127.0.1.1\tweb1\n");
    /* named already (the next boot of the same overlay, any case, any column): unchanged */
    expect_hosts("127.0.0.1 localhost\n127.0.1.1\tweb1\n", "web1", NULL);
    expect_hosts("10.1.1.1 other WEB1 # mine\n", "web1", NULL);
    /* an address, a comment or a longer name is not the name */
    expect_hosts("web1 1.2.3.4\n# 127.0.1.1 web1\n127.0.1.1 web10\n", "web1",
                 "web1 1.2.3.4\n# 127.0.1.1 web1\n127.0.1.1 web10\n127.0.1.1\tweb1\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_daemon_cmdline), cmocka_unit_test(test_no_network),
        cmocka_unit_test(test_good_variants),  cmocka_unit_test(test_bad),
        cmocka_unit_test(test_resolv_format),  cmocka_unit_test(test_hosts_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
