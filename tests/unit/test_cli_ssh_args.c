/* SPDX-License-Identifier: MIT */
/* Unit tests for the command lines of vm ssh, vm tunnel, vm forward and ssh-config, and for
 * the forward spec [ADDR:]HOST_PORT:GUEST_PORT. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"
#include "cmd_forward.h"

#define ARGV_MAX 16

static int parse(const char *const *v, struct bg_cli_args *a, struct bg_error *err)
{
    const char *argv[ARGV_MAX + 1] = {"banger"};
    int argc = 1;

    for (; v[argc - 1]; argc++) {
        assert_true(argc < ARGV_MAX);
        argv[argc] = v[argc - 1];
    }
    return bg_cli_args_parse(argc, (char *const *)argv, a, err);
}

#define PARSE(a, err, ...) parse((const char *const[]){__VA_ARGS__, NULL}, a, err)

static void test_vm_ssh(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "ssh", "web1"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_SSH);
    assert_string_equal(a.name, "web1");
    assert_int_equal(a.n_command, 0);
    assert_int_equal(PARSE(&a, &err, "vm", "ssh", "web1", "--", "ls", "-l", "/"), 0);
    assert_int_equal(a.n_command, 3);
    assert_string_equal(a.command[0], "ls");
    assert_string_equal(a.command[1], "-l");
    assert_int_equal(PARSE(&a, &err, "vm", "ssh", "web1", "uname"), 0);
    assert_int_equal(a.n_command, 1);
}

static void test_tunnel_forward_config(void **state)
{
    (void)state;
    struct bg_cli_args a;
    struct bg_error err = {0};

    assert_int_equal(PARSE(&a, &err, "vm", "tunnel", "web1", "8080"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_TUNNEL);
    assert_int_equal(a.port, 8080);
    assert_int_equal(PARSE(&a, &err, "vm", "forward", "web1", "127.0.0.1:8080:80"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_VM_FORWARD);
    assert_string_equal(a.target, "127.0.0.1:8080:80");
    assert_int_equal(PARSE(&a, &err, "ssh-config", "install"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_SSH_CONFIG_INSTALL);
    assert_int_equal(PARSE(&a, &err, "--socket", "/s", "ssh-config", "uninstall"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_SSH_CONFIG_UNINSTALL);
    /* the ProxyCommand: NAME.vm (ssh's %n) and the port (%p) */
    assert_int_equal(PARSE(&a, &err, "ssh-config", "proxy", "web1.vm", "2222"), 0);
    assert_int_equal(bg_cli_args_cmd(&a), BG_CLI_CMD_SSH_CONFIG_PROXY);
    assert_string_equal(a.name, "web1.vm");
    assert_int_equal(a.port, 2222);
    assert_int_equal(PARSE(&a, &err, "ssh-config", "proxy", "web1"), 0);
    assert_int_equal(a.port, 22);
}

struct refusal {
    const char *argv[ARGV_MAX];
    const char *where;
    const char *fragment;
    int code;
};

static const struct refusal refusals[] = {
    {{"vm", "ssh"}, "vm ssh", "needs a NAME", 0},
    {{"vm", "ssh", "Web1"}, "vm ssh", "invalid name 'Web1'", 0},
    {{"vm", "ssh", "web1", "-t"}, "vm ssh", "unknown flag '-t'", 0},
    {{"vm", "tunnel", "web1"}, "vm tunnel", "needs a PORT", 0},
    {{"vm", "tunnel", "web1", "0"}, "vm tunnel", "PORT: 0 is outside 1..65535", -ERANGE},
    {{"vm", "tunnel", "web1", "65536"}, "vm tunnel", "PORT: 65536 is outside", -ERANGE},
    {{"vm", "tunnel", "web1", "http"}, "vm tunnel", "PORT: 'http' is not a decimal number", 0},
    {{"vm", "tunnel", "web1", "80", "81"}, "vm tunnel", "unexpected argument '81'", 0},
    {{"vm", "forward", "web1"}, "vm forward", "needs the ports", 0},
    {{"vm", "forward", "web1", "8080"}, "vm forward", "is not [ADDR:]HOST_PORT:GUEST_PORT", 0},
    {{"vm", "forward", "web1", "8080:0"}, "vm forward", "GUEST_PORT", -ERANGE},
    {{"ssh-config", "install", "web1"}, "ssh-config install", "unexpected argument 'web1'", 0},
    {{"ssh-config", "proxy"}, "ssh-config proxy", "needs a NAME", 0},
    {{"ssh-config", "proxy", "web_1.vm"}, "ssh-config proxy", "'web_1.vm' is not a VM name", 0},
    {{"ssh-config", "proxy", "example.org"},
     "ssh-config proxy",
     "'example.org' is not a VM name",
     0},
    {{"ssh-config", "proxy", ".vm"}, "ssh-config proxy", "is not a VM name", 0},
    {{"ssh-config", "proxy", "web1.vm", "x"}, "ssh-config proxy", "PORT", 0},
    {{"ssh-config"}, "ssh-config", "'banger ssh-config' needs a subcommand", 0},
};

static void test_refusals(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal *t = &refusals[i];
        struct bg_cli_args a;
        struct bg_error err = {0};
        int code = t->code ? t->code : -EINVAL;
        int r = parse(t->argv, &a, &err);

        if (r != code || err.code != code || !strstr(err.msg, t->fragment) ||
            strcmp(a.where, t->where))
            fail_msg("refusal %zu (%s %s ...): r=%d where='%s' msg='%s'", i, t->argv[0],
                     t->argv[1] ? t->argv[1] : "", r, a.where, err.msg);
    }
}

static void test_forward_spec(void **state)
{
    (void)state;
    struct bg_cli_forward_spec f;
    struct bg_error err = {0};
    char addr[64];

    assert_int_equal(bg_cli_forward_parse("8080:80", &f, &err), 0);
    assert_int_equal(f.host_port, 8080);
    assert_int_equal(f.guest_port, 80);
    assert_int_equal(f.addr.ss_family, AF_INET);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&f.addr;
    assert_string_equal(inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof(addr)), "127.0.0.1");
    assert_int_equal(ntohs(v4->sin_port), 8080);
    assert_string_equal(f.host, "localhost");

    assert_int_equal(bg_cli_forward_parse("0.0.0.0:3000:3000", &f, &err), 0);
    assert_string_equal(inet_ntop(AF_INET, &v4->sin_addr, addr, sizeof(addr)), "0.0.0.0");
    assert_string_equal(f.host, "0.0.0.0");
    assert_int_equal(bg_cli_forward_parse("localhost:1:65535", &f, &err), 0);
    assert_int_equal(f.host_port, 1);
    assert_int_equal(f.guest_port, 65535);

    assert_int_equal(bg_cli_forward_parse("[::1]:8443:443", &f, &err), 0);
    assert_int_equal(f.addr.ss_family, AF_INET6);
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&f.addr;
    assert_string_equal(inet_ntop(AF_INET6, &v6->sin6_addr, addr, sizeof(addr)), "::1");
    assert_int_equal(ntohs(v6->sin6_port), 8443);
    assert_int_equal(f.guest_port, 443);
    assert_string_equal(f.host, "[::1]");

    const struct {
        const char *spec;
        const char *fragment;
    } bad[] = {
        {"", "is not [ADDR:]HOST_PORT:GUEST_PORT"},
        {"80", "is not [ADDR:]HOST_PORT:GUEST_PORT"},
        {":80", "HOST_PORT must be a port number"},
        {"8080:", "GUEST_PORT must be a port number"},
        {"8080:http", "GUEST_PORT: 'http' is not a decimal number"},
        {"0:80", "HOST_PORT: 0 is outside 1..65535"},
        {"8080:65536", "GUEST_PORT: 65536 is outside 1..65535"},
        {"08080:80", "HOST_PORT: '08080' has a leading zero"},
        {":8080:80", "ADDR must be"},
        {"example.org:8080:80", "ADDR 'example.org' is not"},
        {"::1:8080:80", "ADDR '::1' is not"},
        {"[::1]8080:80", "HOST_PORT"},
        {"[127.0.0.1]:8080:80", "ADDR '[127.0.0.1]' is not"},
        {"[::1:8080:80", "ADDR '[::1' is not"},
        {"1.2.3.4.5:8080:80", "ADDR '1.2.3.4.5' is not"},
        {"8080:80:", "GUEST_PORT must be a port number"},
        {"8080:1234567890", "GUEST_PORT must be a port number"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_error e = {0};
        int r = bg_cli_forward_parse(bad[i].spec, &f, &e);
        if (r >= 0 || e.code != r || !strstr(e.msg, bad[i].fragment))
            fail_msg("spec %zu '%s': r=%d '%s' lacks '%s'", i, bad[i].spec, r, e.msg,
                     bad[i].fragment);
    }
}

static void test_vm_host(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char vm[64];

    assert_int_equal(bg_cli_args_vm_host("web1.vm", vm, &err), 0);
    assert_string_equal(vm, "web1");
    assert_int_equal(bg_cli_args_vm_host("web1", vm, &err), 0);
    assert_string_equal(vm, "web1");
    assert_int_equal(bg_cli_args_vm_host("vm", vm, &err), 0);
    assert_string_equal(vm, "vm");
    assert_int_equal(bg_cli_args_vm_host("web1.vm.vm", vm, &err), -EINVAL);
    char long_name[80];
    memset(long_name, 'a', 70);
    strcpy(long_name + 70, ".vm");
    assert_int_equal(bg_cli_args_vm_host(long_name, vm, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is not a VM name"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vm_ssh),   cmocka_unit_test(test_tunnel_forward_config),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_forward_spec),
        cmocka_unit_test(test_vm_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
