/* SPDX-License-Identifier: MIT */
/* Unit tests for client/sysplan.c: the system install's files, modes and owners, the units'
 * hardening and paths, install.toml round-tripping through api/src/install.c, the commands,
 * the resolver drop-ins, and the refusals. */
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
#include "banger/install.h"
#include "sysplan.h"
#include "testutil.h"

static const struct bg_sysplan_opts base = {
    .owner = "alice",
    .uid = 1000,
    .gid = 1001,
    .prefix = "/usr",
};

static const struct bg_sysplan_entry *must(const struct bg_sysplan *p, const char *path)
{
    const struct bg_sysplan_entry *e = bg_sysplan_find(p, path);
    if (!e)
        fail_msg("no entry for %s", path);
    return e;
}

static void test_entries(void **state)
{
    static const struct {
        const char *path;
        enum bg_sysplan_kind kind;
        enum bg_sysplan_keep keep;
        mode_t mode;
        bool owner; /* the owner's, else root's */
    } want[] = {
        {"/etc/banger", BG_SYSPLAN_DIR, BG_SYSPLAN_REMOVE, 0755, false},
        {"/etc/banger/install.toml", BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, 0644, false},
        {"/var/lib/banger-helper", BG_SYSPLAN_DIR, BG_SYSPLAN_PURGE, 0700, false},
        {"/var/lib/banger", BG_SYSPLAN_DIR, BG_SYSPLAN_PURGE, 0750, true},
        {"/var/cache/banger", BG_SYSPLAN_DIR, BG_SYSPLAN_PURGE, 0750, true},
        {"/run/banger", BG_SYSPLAN_DIR, BG_SYSPLAN_REMOVE_TREE, 0750, true},
        {"/etc/tmpfiles.d/banger.conf", BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, 0644, false},
        {"/etc/sysctl.d/60-banger.conf", BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, 0644, false},
        {"/etc/modules-load.d/banger.conf", BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, 0644, false},
        {"/etc/systemd/system/bangerd-root.service", BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, 0644,
         false},
        {"/etc/systemd/system/bangerd.service", BG_SYSPLAN_FILE, BG_SYSPLAN_REMOVE, 0644, false},
    };
    struct bg_sysplan p;
    struct bg_error err;

    (void)state;
    assert_int_equal(bg_sysplan_build(&base, &p, &err), 0);
    assert_int_equal(p.n_entries, BG_ARRAY_SIZE(want));
    for (size_t i = 0; i < BG_ARRAY_SIZE(want); i++) {
        const struct bg_sysplan_entry *e = &p.entries[i];
        assert_string_equal(e->path, want[i].path);
        assert_int_equal(e->kind, want[i].kind);
        assert_int_equal(e->keep, want[i].keep);
        assert_int_equal(e->mode, want[i].mode);
        assert_int_equal(e->uid, want[i].owner ? 1000 : 0);
        assert_int_equal(e->gid, want[i].owner ? 1001 : 0);
        assert_true((e->content != NULL) == (e->kind == BG_SYSPLAN_FILE));
    }
    assert_non_null(
        strstr(must(&p, "/etc/sysctl.d/60-banger.conf")->content, "\nnet.ipv4.ip_forward = 1\n"));
    assert_non_null(strstr(must(&p, "/etc/modules-load.d/banger.conf")->content,
                           "\ntun\nvhost_vsock\nnf_tables\n"));
    assert_non_null(strstr(must(&p, "/etc/tmpfiles.d/banger.conf")->content,
                           "\nd /run/banger 0750 1000 1001 -\n"));
    bg_sysplan_done(&p);
}

static void test_units(void **state)
{
    static const char *const both[] = {
        "\nNoNewPrivileges=yes\n",
        "\nProtectSystem=strict\n",
        "\nRestrictSUIDSGID=yes\n",
        "\nLockPersonality=yes\n",
        "\nDevicePolicy=closed\n",
        "\nDeviceAllow=/dev/kvm rw\n",
        "\nDeviceAllow=/dev/net/tun rw\n",
        "\nDeviceAllow=/dev/vhost-vsock rw\n",
        "\nSystemCallFilter=@system-service\n",
        "\nSystemCallArchitectures=native\n",
        "\nRestrictNamespaces=yes\n",
        "\nUMask=0077\n",
    };
    static const char *const helper[] = {
        "\nExecStart=/opt/b/sbin/bangerd-root --install /etc/banger/install.toml\n",
        "\nProtectHome=yes\n",
        "\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_KILL CAP_SETUID CAP_SETGID CAP_CHOWN\n",
        "\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n",
        "\nMemoryDenyWriteExecute=yes\n",
        "\nKillMode=control-group\n",
        "\nReadWritePaths=/run/banger /var/lib/banger-helper\n",
    };
    static const char *const daemon[] = {
        "\nExecStart=/opt/b/bin/bangerd --system\n",
        "\nUser=alice\n",
        "\nGroup=1001\n",
        "\nProtectHome=read-only\n",
        "\nCapabilityBoundingSet=\n",
        "\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_VSOCK\n",
        "\nKillMode=process\n",
        "\nReadWritePaths=/run/banger /var/lib/banger /var/cache/banger\n",
        "\nWants=bangerd-root.service\n",
    };
    struct bg_sysplan_opts o = base;
    struct bg_sysplan p;
    struct bg_error err;

    (void)state;
    o.prefix = "/opt/b";
    assert_int_equal(bg_sysplan_build(&o, &p, &err), 0);
    const char *h = must(&p, "/etc/systemd/system/bangerd-root.service")->content;
    const char *d = must(&p, "/etc/systemd/system/bangerd.service")->content;
    for (size_t i = 0; i < BG_ARRAY_SIZE(both); i++) {
        if (!strstr(h, both[i]) || !strstr(d, both[i]))
            fail_msg("a unit lacks %s", both[i]);
    }
    for (size_t i = 0; i < BG_ARRAY_SIZE(helper); i++)
        if (!strstr(h, helper[i]))
            fail_msg("bangerd-root.service lacks %s", helper[i]);
    for (size_t i = 0; i < BG_ARRAY_SIZE(daemon); i++)
        if (!strstr(d, daemon[i]))
            fail_msg("bangerd.service lacks %s", daemon[i]);
    /* QEMU's TCG needs writable executable memory; an allow list must come before a deny
     * list, or systemd makes the whole filter a deny list */
    assert_null(strstr(d, "\nMemoryDenyWriteExecute="));
    assert_true(strstr(d, "\nSystemCallFilter=@system-service\n") <
                strstr(d, "\nSystemCallFilter=~"));
    assert_true(strstr(h, "\nSystemCallFilter=@system-service\n") <
                strstr(h, "\nSystemCallFilter=~"));
    bg_sysplan_done(&p);
}

/* install.toml as written is what api/src/install.c reads back. */
static void test_install_toml_roundtrip(void **state)
{
    struct bg_sysplan_opts o = base;
    struct bg_install in;
    struct bg_sysplan p;
    struct bg_error err;

    (void)state;
    for (int fc = 0; fc < 2; fc++) {
        o.firecracker = fc ? "/usr/bin/firecracker" : NULL;
        assert_int_equal(bg_sysplan_build(&o, &p, &err), 0);
        const char *text = must(&p, BG_INSTALL_FILE)->content;
        bg_autofree char *where = bg_asprintf("%s/install.toml", bg_test_dir());
        bg_autofree char *path = bg_test_write_file(where, text, strlen(text));
        if (bg_install_load(path, &in, &err) < 0)
            fail_msg("%s", err.msg);
        assert_int_equal(in.owner_uid, 1000);
        assert_int_equal(in.owner_gid, 1001);
        if (fc)
            assert_string_equal(in.firecracker, "/usr/bin/firecracker");
        else
            assert_null(in.firecracker);
        /* the units' paths are install.toml's defaults */
        assert_string_equal(in.runtime_dir, "/run/banger");
        assert_string_equal(in.state_dir, "/var/lib/banger");
        assert_string_equal(in.helper_state_dir, "/var/lib/banger-helper");
        assert_string_equal(in.helper_socket, "/run/banger/helper.sock");
        bg_install_done(&in);
        bg_sysplan_done(&p);
    }
}

static void test_resolvers(void **state)
{
    static const struct {
        enum bg_sysplan_resolver r;
        const char *path; /* NULL: none */
        const char *content;
        const char *note;
    } cases[] = {
        {BG_SYSPLAN_RESOLVER_RESOLVED, "/etc/systemd/resolved.conf.d/banger.conf",
         "[Resolve]\nDNS=10.77.0.1:42069\nDomains=~vm\n", "systemd-resolved"},
        {BG_SYSPLAN_RESOLVER_DNSMASQ, "/etc/dnsmasq.d/banger.conf", "server=/vm/10.77.0.1#42069\n",
         "dnsmasq"},
        {BG_SYSPLAN_RESOLVER_NETWORKMANAGER, "/etc/NetworkManager/dnsmasq.d/banger.conf",
         "server=/vm/10.77.0.1#42069\n", "NetworkManager"},
        {BG_SYSPLAN_RESOLVER_NONE, NULL, NULL, "not configured"},
    };

    (void)state;
    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_sysplan_opts o = base;
        struct bg_sysplan p;
        struct bg_error err;
        o.resolver = cases[i].r;
        assert_int_equal(bg_sysplan_build(&o, &p, &err), 0);
        assert_non_null(strstr(p.resolver_note, cases[i].note));
        size_t reloads = 0;
        for (size_t k = 0; k < p.n_install_cmds; k++)
            reloads += !strcmp(p.install_cmds[k].argv[1], "try-reload-or-restart");
        if (cases[i].path) {
            assert_non_null(strstr(must(&p, cases[i].path)->content, cases[i].content));
            assert_int_equal(reloads, 1);
            assert_int_equal(p.n_entries, 12);
        } else {
            assert_int_equal(reloads, 0);
            assert_int_equal(p.n_entries, 11);
        }
        bg_sysplan_done(&p);
    }
}

static void test_commands(void **state)
{
    struct bg_sysplan p;
    struct bg_error err;

    (void)state;
    assert_int_equal(bg_sysplan_build(&base, &p, &err), 0);
    const struct bg_sysplan_cmd *last = &p.install_cmds[p.n_install_cmds - 1];
    assert_string_equal(last->argv[0], "systemctl");
    assert_string_equal(last->argv[1], "enable");
    assert_string_equal(last->argv[2], "--now");
    assert_string_equal(last->argv[3], "bangerd-root.service");
    assert_string_equal(last->argv[4], "bangerd.service");
    assert_null(last->argv[5]);
    assert_string_equal(p.install_cmds[0].argv[1], "daemon-reload");
    assert_string_equal(p.uninstall_cmds[0].argv[1], "disable");
    assert_string_equal(p.uninstall_cmds[0].argv[3], "bangerd.service");
    bg_sysplan_done(&p);
}

static void test_refusals(void **state)
{
    static const struct {
        const char *owner;
        uid_t uid;
        const char *prefix;
        const char *firecracker;
        const char *msg;
    } cases[] = {
        {"root", 0, "/usr", NULL, "may not be root"},
        {"", 1000, "/usr", NULL, "cannot go into a unit file"},
        {"al ice", 1000, "/usr", NULL, "cannot go into a unit file"},
        {"al\nice", 1000, "/usr", NULL, "cannot go into a unit file"},
        {"alice", 1000, "usr", NULL, "is not an absolute, plain path"},
        {"alice", 1000, "", NULL, "is not an absolute, plain path"},
        {"alice", 1000, "/opt/my prefix", NULL, "is not an absolute, plain path"},
        {"alice", 1000, "/opt/%h", NULL, "is not an absolute, plain path"},
        {"alice", 1000, "/usr", "firecracker", "firecracker path"},
        {"alice", 1000, "/usr", "/opt/fc\"x", "firecracker path"},
    };

    (void)state;
    for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
        struct bg_sysplan_opts o = base;
        struct bg_sysplan p;
        struct bg_error err = {0};
        o.owner = cases[i].owner;
        o.uid = cases[i].uid;
        o.prefix = cases[i].prefix;
        o.firecracker = cases[i].firecracker;
        assert_int_equal(bg_sysplan_build(&o, &p, &err), -EINVAL);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        assert_int_equal(p.n_entries, 0);
        bg_sysplan_done(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries),
        cmocka_unit_test(test_units),
        cmocka_unit_test_setup_teardown(test_install_toml_roundtrip, bg_test_dir_setup,
                                        bg_test_dir_teardown),
        cmocka_unit_test(test_resolvers),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
