/* SPDX-License-Identifier: MIT */
/* Unit tests for server/core/config.c: layers, provenance, refusals and the JSON view. */
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
#include "core/config.h"
#include "testutil.h"

/* Write content to <test dir>/name; returns the path (caller frees). */
static char *write_file(const char *name, const char *content, size_t len)
{
    bg_autofree char *path = bg_asprintf("%s/%s", bg_test_dir(), name);

    return bg_test_write_file(path, content, len);
}

static char *write_text(const char *name, const char *content)
{
    return write_file(name, content, strlen(content));
}

/* Parse argv (NULL-terminated, program name added) into *ret. */
static int parse(const char *const *args, struct bg_config_args *ret, struct bg_error *err)
{
    char *argv[32] = {(char *)"bangerd"};
    int argc = 1;
    for (; args && args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    memset(err, 0, sizeof(*err));
    return bg_config_args_parse(argc, argv, ret, err);
}

/* Parse argv and load with envp, as bangerd's main does. */
static int load(struct bg_config *cfg, const char *const *args, char *const *envp,
                struct bg_error *err)
{
    struct bg_config_args a;
    struct bg_config_env env = {.envp = envp, .uid = 1000};
    int r = parse(args, &a, err);

    memset(cfg, 0, sizeof(*cfg));
    return r < 0 ? r : bg_config_load(cfg, &a, &env, err);
}

static char *const home_env[] = {(char *)"HOME=/home/u", NULL};

static void assert_source(const struct bg_config *cfg, enum bg_config_key k, const char *want)
{
    assert_non_null(cfg->source[k]);
    assert_string_equal(cfg->source[k], want);
}

static void test_defaults_user(void **state)
{
    (void)state;
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, home_env, &err), 0);
    assert_int_equal(cfg.mode, BG_CONFIG_MODE_USER);
    assert_string_equal(cfg.state_dir, "/home/u/.local/state/banger");
    assert_string_equal(cfg.runtime_dir, "/run/user/1000/banger");
    assert_string_equal(cfg.socket, "/run/user/1000/banger/bangerd.sock");
    assert_string_equal(cfg.config_file, "/home/u/.config/banger/bangerd.toml");
    assert_false(cfg.config_file_loaded);
    assert_int_equal(cfg.log_level, BG_LOG_INFO);
    assert_int_equal(cfg.shutdown_timeout_s, 10);
    assert_int_equal(cfg.body_max_bytes, 65536);
    assert_int_equal(cfg.event_history, 10000);
    assert_int_equal(cfg.vm_default_vcpus, 2);
    assert_int_equal(cfg.vm_default_memory_mib, 1024);
    assert_int_equal(cfg.vm_default_disk_mib, 8192);
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++)
        assert_source(&cfg, (enum bg_config_key)k, "default");
    bg_config_done(&cfg);
    assert_null(cfg.socket);
}

static void test_defaults_xdg(void **state)
{
    (void)state;
    bg_autofree char *cfg_home = bg_asprintf("XDG_CONFIG_HOME=%s/nowhere/", bg_test_dir());
    char *const envp[] = {(char *)"HOME=/home/u", (char *)"XDG_STATE_HOME=/data/state/",
                          (char *)"XDG_RUNTIME_DIR=/run/user/77", cfg_home, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, envp, &err), 0);
    assert_string_equal(cfg.state_dir, "/data/state/banger");
    assert_string_equal(cfg.runtime_dir, "/run/user/77/banger");
    assert_string_equal(cfg.socket, "/run/user/77/banger/bangerd.sock");
    bg_autofree char *want = bg_asprintf("%s/nowhere/banger/bangerd.toml", bg_test_dir());
    assert_string_equal(cfg.config_file, want);
    bg_config_done(&cfg);
}

static void test_xdg_relative_ignored(void **state)
{
    (void)state;
    char *const envp[] = {(char *)"HOME=/home/u", (char *)"XDG_STATE_HOME=rel/state",
                          (char *)"XDG_RUNTIME_DIR=", (char *)"XDG_CONFIG_HOME=x", NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, envp, &err), 0);
    assert_string_equal(cfg.state_dir, "/home/u/.local/state/banger");
    assert_string_equal(cfg.runtime_dir, "/run/user/1000/banger");
    assert_string_equal(cfg.config_file, "/home/u/.config/banger/bangerd.toml");
    bg_config_done(&cfg);
}

static void test_no_home(void **state)
{
    (void)state;
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "cannot derive state_dir"));
    assert_null(cfg.source[0]);

    const char *args[] = {"--state-dir", "/s", NULL};
    assert_int_equal(load(&cfg, args, NULL, &err), 0);
    assert_null(cfg.config_file);
    assert_string_equal(cfg.state_dir, "/s");
    bg_config_done(&cfg);
}

static void test_system_flag(void **state)
{
    (void)state;
    const char *args[] = {"--system", NULL};
    struct bg_config cfg;
    struct bg_error err;

    if (access("/etc/banger/bangerd.toml", F_OK) == 0)
        skip(); /* needs a host without a system config file */
    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    assert_int_equal(cfg.mode, BG_CONFIG_MODE_SYSTEM);
    assert_string_equal(cfg.state_dir, "/var/lib/banger");
    assert_string_equal(cfg.runtime_dir, "/run/banger");
    assert_string_equal(cfg.socket, "/run/banger/bangerd.sock");
    assert_string_equal(cfg.config_file, "/etc/banger/bangerd.toml");
    assert_source(&cfg, BG_CONFIG_KEY_MODE, "flag:--system");
    assert_source(&cfg, BG_CONFIG_KEY_STATE_DIR, "default");
    bg_config_done(&cfg);
}

static void test_system_env_and_file(void **state)
{
    (void)state;
    bg_autofree char *path = write_text("sys.toml", "# system\nmode = \"system\"\n");
    bg_autofree char *cfgvar = bg_asprintf("BANGERD_CONFIG=%s", path);
    char *const envp[] = {(char *)"HOME=/home/u", cfgvar, NULL};
    char *const envp_mode[] = {(char *)"BANGERD_MODE=system", cfgvar, NULL};
    struct bg_config cfg;
    struct bg_error err;

    /* the file alone chooses system mode */
    assert_int_equal(load(&cfg, NULL, envp, &err), 0);
    assert_int_equal(cfg.mode, BG_CONFIG_MODE_SYSTEM);
    assert_string_equal(cfg.state_dir, "/var/lib/banger");
    assert_true(cfg.config_file_loaded);
    bg_autofree char *src = bg_asprintf("file:%s:2", path);
    assert_source(&cfg, BG_CONFIG_KEY_MODE, src);
    assert_source(&cfg, BG_CONFIG_KEY_CONFIG_FILE, "env:BANGERD_CONFIG");
    bg_config_done(&cfg);

    /* environment and file agree: the environment keeps the provenance */
    assert_int_equal(load(&cfg, NULL, envp_mode, &err), 0);
    assert_int_equal(cfg.mode, BG_CONFIG_MODE_SYSTEM);
    assert_string_equal(cfg.runtime_dir, "/run/banger");
    assert_source(&cfg, BG_CONFIG_KEY_MODE, "env:BANGERD_MODE");
    bg_config_done(&cfg);
}

static void test_mode_conflict(void **state)
{
    (void)state;
    bg_autofree char *path = write_text("user.toml", "mode = \"user\"\n");
    const char *args[] = {"--system", "--config", path, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), -EINVAL);
    bg_autofree char *want = bg_asprintf("%s:1: key 'mode': 'user' conflicts with --system", path);
    assert_string_equal(err.msg, want);
}

static const char full_file[] = "# banger\n"
                                "\n"
                                "socket = \"/srv/b/api.sock\"\n"
                                "state_dir = \"/srv/b/state\"  # where disks go\n"
                                "\truntime_dir=\"/srv/b/run\"\n"
                                "log_level = \"warn\"\r\n"
                                "shutdown_timeout_s = 300\n"
                                "body_max_bytes = 1024\n"
                                "event_history = 100\n"
                                "vm_default_vcpus = 32\n"
                                "vm_default_memory_mib = 65536\n"
                                "vm_default_disk_mib = 1048576";

static void test_file_values(void **state)
{
    (void)state;
    bg_autofree char *path = write_text("full.toml", full_file);
    const char *args[] = {"--config", path, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    assert_true(cfg.config_file_loaded);
    assert_string_equal(cfg.socket, "/srv/b/api.sock");
    assert_string_equal(cfg.state_dir, "/srv/b/state");
    assert_string_equal(cfg.runtime_dir, "/srv/b/run");
    assert_int_equal(cfg.log_level, BG_LOG_WARN);
    assert_int_equal(cfg.shutdown_timeout_s, 300);
    assert_int_equal(cfg.body_max_bytes, 1024);
    assert_int_equal(cfg.event_history, 100);
    assert_int_equal(cfg.vm_default_vcpus, 32);
    assert_int_equal(cfg.vm_default_memory_mib, 65536);
    assert_int_equal(cfg.vm_default_disk_mib, 1048576);
    static const struct {
        enum bg_config_key key;
        int line;
    } lines[] = {{BG_CONFIG_KEY_SOCKET, 3},
                 {BG_CONFIG_KEY_STATE_DIR, 4},
                 {BG_CONFIG_KEY_RUNTIME_DIR, 5},
                 {BG_CONFIG_KEY_LOG_LEVEL, 6},
                 {BG_CONFIG_KEY_SHUTDOWN_TIMEOUT_S, 7},
                 {BG_CONFIG_KEY_VM_DEFAULT_DISK_MIB, 12}};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        bg_autofree char *want = bg_asprintf("file:%s:%d", path, lines[i].line);
        assert_source(&cfg, lines[i].key, want);
    }
    assert_source(&cfg, BG_CONFIG_KEY_MODE, "default");
    assert_source(&cfg, BG_CONFIG_KEY_CONFIG_FILE, "flag:--config");
    bg_config_done(&cfg);
}

static void test_sample_file(void **state)
{
    (void)state;
    const char *data = getenv("BANGER_TEST_DATA");
    if (!data)
        skip(); /* needs BANGER_TEST_DATA, set by ctest */
    bg_autofree char *path = bg_asprintf("%s/config/bangerd.toml", data);
    const char *args[] = {"--config", path, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    assert_string_equal(cfg.socket, "/tmp/banger-sample/api.sock");
    assert_int_equal(cfg.log_level, BG_LOG_DEBUG);
    assert_int_equal(cfg.vm_default_vcpus, 4);
    bg_config_done(&cfg);
}

static void test_string_escapes(void **state)
{
    (void)state;
    bg_autofree char *path = write_text("esc.toml", "state_dir = \"/a\\\\b/c\\\"d\"\n");
    const char *args[] = {"--config", path, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    assert_string_equal(cfg.state_dir, "/a\\b/c\"d");
    bg_config_done(&cfg);
}

static void test_layers(void **state)
{
    (void)state;
    bg_autofree char *path = write_text("layers.toml", "shutdown_timeout_s = 20\n"
                                                       "log_level = \"error\"\n"
                                                       "event_history = 200\n"
                                                       "socket = \"/file.sock\"\n");
    bg_autofree char *cfgvar = bg_asprintf("BANGERD_CONFIG=%s", path);
    char *const envp[] = {(char *)"HOME=/home/u",
                          cfgvar,
                          (char *)"BANGERD_SHUTDOWN_TIMEOUT_S=30",
                          (char *)"BANGERD_LOG_LEVEL=debug",
                          (char *)"BANGERD_SOCKET=/env.sock",
                          (char *)"BANGERD_BODY_MAX_BYTES=",
                          NULL};
    const char *args[] = {"--shutdown-timeout=40", "--socket", "/flag.sock", NULL};
    struct bg_config cfg;
    struct bg_error err;

    /* environment beats file */
    assert_int_equal(load(&cfg, NULL, envp, &err), 0);
    assert_int_equal(cfg.shutdown_timeout_s, 30);
    assert_int_equal(cfg.log_level, BG_LOG_DEBUG);
    assert_int_equal(cfg.event_history, 200);
    assert_int_equal(cfg.body_max_bytes, 65536); /* empty variable counts as unset */
    assert_string_equal(cfg.socket, "/env.sock");
    assert_source(&cfg, BG_CONFIG_KEY_SHUTDOWN_TIMEOUT_S, "env:BANGERD_SHUTDOWN_TIMEOUT_S");
    bg_autofree char *src = bg_asprintf("file:%s:3", path);
    assert_source(&cfg, BG_CONFIG_KEY_EVENT_HISTORY, src);
    bg_config_done(&cfg);

    /* flags beat environment */
    assert_int_equal(load(&cfg, args, envp, &err), 0);
    assert_int_equal(cfg.shutdown_timeout_s, 40);
    assert_string_equal(cfg.socket, "/flag.sock");
    assert_int_equal(cfg.log_level, BG_LOG_DEBUG);
    assert_source(&cfg, BG_CONFIG_KEY_SHUTDOWN_TIMEOUT_S, "flag:--shutdown-timeout");
    assert_source(&cfg, BG_CONFIG_KEY_SOCKET, "flag:--socket");
    assert_source(&cfg, BG_CONFIG_KEY_LOG_LEVEL, "env:BANGERD_LOG_LEVEL");
    bg_config_done(&cfg);
}

static void test_socket_follows_runtime_dir(void **state)
{
    (void)state;
    const char *args[] = {"--runtime-dir", "/r", "--state-dir", "/s", "--log-level", "error", NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    assert_string_equal(cfg.socket, "/r/bangerd.sock");
    assert_string_equal(cfg.state_dir, "/s");
    assert_int_equal(cfg.log_level, BG_LOG_ERROR);
    assert_source(&cfg, BG_CONFIG_KEY_RUNTIME_DIR, "flag:--runtime-dir");
    assert_source(&cfg, BG_CONFIG_KEY_SOCKET, "default");
    bg_config_done(&cfg);
}

/* A file body, the code it must fail with, and the message after "PATH:". */
static const struct {
    const char *body;
    int code;
    const char *msg;
} bad_files[] = {
    {"colour = \"red\"\n", -EINVAL, "1: unknown key 'colour'"},
    {"config_file = \"/x\"\n", -EINVAL, "1: unknown key 'config_file'"},
    {"# c\nsocket = \"/a\"\nsocket = \"/b\"\n", -EINVAL,
     "3: key 'socket': duplicate, first set on line 2"},
    {"shutdown_timeout_s = \"10\"\n", -EINVAL,
     "1: key 'shutdown_timeout_s': expected an integer, got a string"},
    {"state_dir = 5\n", -EINVAL, "1: key 'state_dir': expected a string, got an integer"},
    {"log_level = true\n", -EINVAL, "1: key 'log_level': expected a string, got a boolean"},
    {"\n\nshutdown_timeout_s = 0\n", -ERANGE, "3: key 'shutdown_timeout_s': 0 is outside 1..300"},
    {"vm_default_vcpus = 33\n", -ERANGE, "1: key 'vm_default_vcpus': 33 is outside 1..32"},
    {"event_history = -1\n", -EINVAL, "1: key 'event_history': '-1' is not a decimal number"},
    {"body_max_bytes = 0x400\n", -EINVAL, "1: key 'body_max_bytes': '0x400' has a leading zero"},
    {"body_max_bytes = 99999999999999999999999\n", -ERANGE, "1: key 'body_max_bytes':"},
    {"just some words\n", -EINVAL, "1: key 'just': expected '=' after the key"},
    {"socket\n", -EINVAL, "1: key 'socket': expected '=' after the key"},
    {"= 5\n", -EINVAL, "1: malformed line, expected 'key = value'"},
    {"[server]\nsocket = \"/a\"\n", -EINVAL, "1: sections like '[server]' are not supported"},
    {"vm_default_vcpus = 4 4\n", -EINVAL, "1: key 'vm_default_vcpus': unexpected '4' after"},
    {"socket = \"/a\" x\n", -EINVAL, "1: key 'socket': unexpected 'x' after the value"},
    {"socket = \n", -EINVAL, "1: key 'socket': missing value after '='"},
    {"socket = /a\n", -EINVAL, "1: key 'socket': '/a' is not a string, integer or boolean"},
    {"socket = \"/a\n", -EINVAL, "1: key 'socket': unterminated string"},
    {"socket = \"/a\\n\"\n", -EINVAL, "1: key 'socket': unsupported escape '\\n'"},
    {"socket = \"/a\tb\"\n", -EINVAL, "1: key 'socket': control character in string"},
    {"state_dir = \"relative/dir\"\n", -EINVAL, "1: key 'state_dir': path 'relative/dir' is not"},
    {"runtime_dir = \"/a/../b\"\n", -EINVAL, "1: key 'runtime_dir': path '/a/../b' is not norm"},
    {"log_level = \"loud\"\n", -EINVAL,
     "1: key 'log_level': 'loud' is not one of error, warn, info, debug"},
    {"mode = \"cluster\"\n", -EINVAL, "1: key 'mode': 'cluster' is not one of user, system"},
};

static void test_file_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        bg_autofree char *name = bg_asprintf("bad%zu.toml", i);
        bg_autofree char *path = write_text(name, bad_files[i].body);
        const char *args[] = {"--config", path, NULL};
        struct bg_config cfg;
        struct bg_error err;

        int r = load(&cfg, args, home_env, &err);
        bg_autofree char *want = bg_asprintf("%s:%s", path, bad_files[i].msg);
        if (r != bad_files[i].code || strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("case %zu: got %d '%s', want %d '%s'", i, r, err.msg, bad_files[i].code, want);
        assert_int_equal(err.code, r);
        assert_null(cfg.socket); /* left zeroed on failure */
    }
}

static void test_file_long_line_and_nul(void **state)
{
    (void)state;
    char body[5 + 1025 + 1]; /* "# ok\n", then a 1024-byte comment line, then one more byte */
    memset(body, '#', sizeof(body));
    memcpy(body, "# ok\n", 5);
    body[5 + 1024] = '\n';
    bg_autofree char *ok_path = write_file("long-ok.toml", body, 5 + 1025);
    body[5 + 1024] = '#'; /* now line 2 is 1025 bytes */
    body[sizeof(body) - 1] = '\n';
    bg_autofree char *long_path = write_file("long.toml", body, sizeof(body));
    bg_autofree char *nul_path = write_file("nul.toml", "socket = \"/a\0\"\n", 15);
    const char *ok_args[] = {"--config", ok_path, NULL};
    const char *long_args[] = {"--config", long_path, NULL};
    const char *nul_args[] = {"--config", nul_path, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, ok_args, home_env, &err), 0);
    assert_true(cfg.config_file_loaded);
    bg_config_done(&cfg);

    assert_int_equal(load(&cfg, long_args, home_env, &err), -E2BIG);
    bg_autofree char *want = bg_asprintf("%s:2: line is longer than 1024 bytes", long_path);
    assert_string_equal(err.msg, want);

    assert_int_equal(load(&cfg, nul_args, home_env, &err), -EINVAL);
    bg_autofree char *want_nul = bg_asprintf("%s:1: line contains a NUL byte", nul_path);
    assert_string_equal(err.msg, want_nul);
}

static void test_missing_config(void **state)
{
    (void)state;
    bg_autofree char *path = bg_asprintf("%s/absent.toml", bg_test_dir());
    bg_autofree char *cfgvar = bg_asprintf("BANGERD_CONFIG=%s", path);
    bg_autofree char *xdg = bg_asprintf("XDG_CONFIG_HOME=%s/absent", bg_test_dir());
    char *const env_explicit[] = {(char *)"HOME=/home/u", cfgvar, NULL};
    char *const env_default[] = {(char *)"HOME=/home/u", xdg, NULL};
    const char *args[] = {"--config", path, NULL};
    const char *rel[] = {"--config", "bangerd.toml", NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), -ENOENT);
    bg_autofree char *want = bg_asprintf("config file: open %s: ", path);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(load(&cfg, NULL, env_explicit, &err), -ENOENT);
    assert_non_null(strstr(err.msg, want));
    assert_int_equal(load(&cfg, rel, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "option --config: path 'bangerd.toml' is not absolute"));

    /* the default file may be missing */
    assert_int_equal(load(&cfg, NULL, env_default, &err), 0);
    assert_false(cfg.config_file_loaded);
    bg_config_done(&cfg);
}

static void test_env_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *var;
        int code;
        const char *msg;
    } cases[] = {
        {"BANGERD_LOG_LEVEL=loud", -EINVAL,
         "environment variable BANGERD_LOG_LEVEL: 'loud' is not one of"},
        {"BANGERD_STATE_DIR=state", -EINVAL,
         "environment variable BANGERD_STATE_DIR: path 'state' is not absolute"},
        {"BANGERD_SHUTDOWN_TIMEOUT_S=301", -ERANGE,
         "environment variable BANGERD_SHUTDOWN_TIMEOUT_S: 301 is outside 1..300"},
        {"BANGERD_MODE=root", -EINVAL, "environment variable BANGERD_MODE: 'root' is not one of"},
        {"BANGERD_CONFIG=./x", -EINVAL, "environment variable BANGERD_CONFIG: path './x'"},
        {"HOME=/home//u", -EINVAL, "cannot derive a path from HOME: path '/home//u/.config"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *const envp[] = {(char *)cases[i].var, (char *)"HOME=/home/u", NULL};
        struct bg_config cfg;
        struct bg_error err;

        int r = load(&cfg, NULL, envp, &err);
        if (r != cases[i].code || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want %d '%s'", i, r, err.msg, cases[i].code,
                     cases[i].msg);
    }
}

static void test_flag_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *args[4];
        int code;
        const char *msg;
    } cases[] = {
        {{"--verbose"}, -EINVAL, "unknown option '--verbose' (see --help)"},
        {{"-v"}, -EINVAL, "unknown option '-v'"},
        {{"serve"}, -EINVAL, "unexpected argument 'serve'"},
        {{"--socket"}, -EINVAL, "option --socket needs a value"},
        {{"--system=yes"}, -EINVAL, "option --system takes no value"},
        {{"--help=1"}, -EINVAL, "option --help takes no value"},
        {{"--socket", "/a", "--socket=/b"}, -EINVAL, "option --socket given twice"},
        {{"--shutdown-timeout", "0"}, -ERANGE, "option --shutdown-timeout: 0 is outside 1..300"},
        {{"--shutdown-timeout", "ten"}, -EINVAL, "option --shutdown-timeout: 'ten' is not a"},
        {{"--log-level", "loud"}, -EINVAL, "option --log-level: 'loud' is not one of"},
        {{"--state-dir", "rel"}, -EINVAL, "option --state-dir: path 'rel' is not absolute"},
        {{"--socket", "/a//b"}, -EINVAL, "option --socket: path '/a//b' is not normalised"},
        {{"--socket", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock"}, /* 115 bytes */
         -EINVAL,
         "option --socket: '/aaa"},
        {{"--runtime-dir",
          "/rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"
          "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"}, /* + "/bangerd.sock" > 107 bytes */
         -EINVAL,
         "socket derived from runtime_dir (set socket explicitly): '/rrr"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bg_config_args a;
        struct bg_config cfg;
        struct bg_error err;
        const char *args[5] = {cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL};

        int r = load(&cfg, args, home_env, &err);
        if (r != cases[i].code || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want %d '%s'", i, r, err.msg, cases[i].code,
                     cases[i].msg);
        /* a mistake in argv itself is found by the parse alone: bangerd exits 2 for it */
        bool usage = i + 1 < sizeof(cases) / sizeof(cases[0]);
        assert_int_equal(parse(args, &a, &err) < 0, usage);
    }
}

static void test_actions(void **state)
{
    (void)state;
    const char *help[] = {"--print-routes", "--help", "--version", NULL};
    const char *version[] = {"--version", "--print-routes", NULL};
    const char *routes[] = {"--print-routes", NULL};
    const char *short_help[] = {"-h", NULL};
    struct bg_config_args a;
    struct bg_error err;

    /* actions come from argv alone: no environment or file is read for them */
    assert_int_equal(parse(help, &a, &err), 0);
    assert_int_equal(a.action, BG_CONFIG_ACTION_HELP);
    assert_int_equal(parse(version, &a, &err), 0);
    assert_int_equal(a.action, BG_CONFIG_ACTION_VERSION);
    assert_int_equal(parse(routes, &a, &err), 0);
    assert_int_equal(a.action, BG_CONFIG_ACTION_PRINT_ROUTES);
    const char *scopes[] = {"--print-routes", "--print-scopes", NULL};
    assert_int_equal(parse(scopes, &a, &err), 0);
    assert_int_equal(a.action, BG_CONFIG_ACTION_PRINT_SCOPES);
    assert_int_equal(parse(short_help, &a, &err), 0);
    assert_int_equal(a.action, BG_CONFIG_ACTION_HELP);
    assert_int_equal(parse(NULL, &a, &err), 0);
    assert_int_equal(a.action, BG_CONFIG_ACTION_RUN);
    assert_non_null(strstr(bg_config_usage(), "--shutdown-timeout S"));
}

/* vmm and accel: defaults, each layer with its provenance, refusals naming the choices. */
static void test_vmm_and_accel(void **state)
{
    (void)state;
    bg_autofree char *path = write_text("vmm.toml", "vmm = \"qemu\"\naccel = \"kvm\"\n");
    const char *file_args[] = {"--config", path, NULL};
    char *const env[] = {(char *)"HOME=/home/u", (char *)"BANGERD_ACCEL=tcg", NULL};
    char *const bad_env[] = {(char *)"HOME=/home/u", (char *)"BANGERD_VMM=kvmtool", NULL};
    bg_autofree char *bad = write_text("badvmm.toml", "accel = \"hvf\"\n");
    const char *bad_args[] = {"--config", bad, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, home_env, &err), 0);
    assert_string_equal(cfg.vmm, "auto");
    assert_string_equal(cfg.accel, "auto");
    assert_source(&cfg, BG_CONFIG_KEY_VMM, "default");
    json_t *j = bg_config_to_json(&cfg);
    json_t *vmm = json_object_get(j, "vmm");
    assert_string_equal(json_string_value(json_object_get(vmm, "value")), "auto");
    json_decref(j);
    bg_config_done(&cfg);

    assert_int_equal(load(&cfg, file_args, env, &err), 0);
    assert_string_equal(cfg.vmm, "qemu");
    assert_string_equal(cfg.accel, "tcg"); /* the environment beats the file */
    bg_autofree char *line1 = bg_asprintf("file:%s:1", path);
    assert_source(&cfg, BG_CONFIG_KEY_VMM, line1);
    assert_source(&cfg, BG_CONFIG_KEY_ACCEL, "env:BANGERD_ACCEL");
    bg_config_done(&cfg);

    assert_int_equal(load(&cfg, NULL, bad_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "BANGERD_VMM"));
    assert_non_null(strstr(err.msg, "not one of auto, qemu, firecracker"));
    assert_int_equal(load(&cfg, bad_args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "key 'accel'"));
    assert_non_null(strstr(err.msg, "not one of auto, kvm, tcg"));
}

static void test_to_json(void **state)
{
    (void)state;
    const char *args[] = {"--log-level", "debug", NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    json_t *j = bg_config_to_json(&cfg);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), BG_CONFIG_KEY_COUNT);
    for (int k = 0; k < BG_CONFIG_KEY_COUNT; k++) {
        json_t *entry = json_object_get(j, bg_config_key_name((enum bg_config_key)k));
        assert_non_null(entry);
        assert_int_equal(json_object_size(entry), 2);
        assert_true(json_is_string(json_object_get(entry, "source")));
        assert_non_null(json_object_get(entry, "value"));
    }
    json_t *level = json_object_get(j, "log_level");
    assert_string_equal(json_string_value(json_object_get(level, "value")), "debug");
    assert_string_equal(json_string_value(json_object_get(level, "source")), "flag:--log-level");
    json_t *mode = json_object_get(j, "mode");
    assert_string_equal(json_string_value(json_object_get(mode, "value")), "user");
    json_t *timeout = json_object_get(j, "shutdown_timeout_s");
    assert_int_equal(json_integer_value(json_object_get(timeout, "value")), 10);
    assert_string_equal(json_string_value(json_object_get(timeout, "source")), "default");
    json_t *sock = json_object_get(j, "socket");
    assert_string_equal(json_string_value(json_object_get(sock, "value")),
                        "/run/user/1000/banger/bangerd.sock");
    json_decref(j);
    bg_config_done(&cfg);
    assert_null(bg_config_key_name(BG_CONFIG_KEY_COUNT));
    assert_string_equal(bg_config_mode_name(BG_CONFIG_MODE_SYSTEM), "system");
}

/* A FIFO (or anything but a regular file) where the config file should be is refused at
 * once: opening it never blocks the start. */
static void test_config_not_regular(void **state)
{
    (void)state;
    bg_autofree char *fifo = bg_asprintf("%s/fifo.toml", bg_test_dir());
    const char *args[] = {"--config", fifo, NULL};
    const char *dir_args[] = {"--config", bg_test_dir(), NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(load(&cfg, args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is not a regular file"));
    assert_int_equal(load(&cfg, dir_args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "is not a regular file"));
    (void)unlink(fifo);
}

/* Booleans: true/false in the file and the environment, nothing else; shown as JSON booleans. */
static void test_bool_key(void **state)
{
    (void)state;
    bg_autofree char *good = write_text("bool.toml", "firecracker_kvm_check = false\n");
    bg_autofree char *quoted = write_text("boolq.toml", "firecracker_kvm_check = \"false\"\n");
    const char *good_args[] = {"--config", good, NULL};
    const char *quoted_args[] = {"--config", quoted, NULL};
    char *const env[] = {(char *)"HOME=/home/u", (char *)"BANGERD_FIRECRACKER_KVM_CHECK=no", NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, home_env, &err), 0);
    assert_true(cfg.firecracker_kvm_check);
    bg_config_done(&cfg);
    assert_int_equal(load(&cfg, good_args, home_env, &err), 0);
    assert_false(cfg.firecracker_kvm_check);
    json_t *j = bg_config_to_json(&cfg);
    assert_true(
        json_is_false(json_object_get(json_object_get(j, "firecracker_kvm_check"), "value")));
    json_decref(j);
    bg_config_done(&cfg);
    assert_int_equal(load(&cfg, quoted_args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "expected a boolean, got a string"));
    assert_int_equal(load(&cfg, NULL, env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "BANGERD_FIRECRACKER_KVM_CHECK: 'no' is not true or false"));
}

/* vm_default_image: a name, default "default"; image_dev_packages: package names separated by
 * commas or blanks, kept space-separated; both shown in the JSON view. */
static void test_image_keys(void **state)
{
    (void)state;
    bg_autofree char *good = write_text(
        "img.toml", "vm_default_image = \"dev\"\nimage_dev_packages = \"vim, jq strace\"\n");
    bg_autofree char *bad_name = write_text("img1.toml", "vm_default_image = \"Dev\"\n");
    bg_autofree char *bad_pkg = write_text("img2.toml", "image_dev_packages = \"vim,Emacs\"\n");
    bg_autofree char *number = write_text("img3.toml", "vm_default_image = 3\n");
    const char *good_args[] = {"--config", good, NULL};
    const char *bad_name_args[] = {"--config", bad_name, NULL};
    const char *bad_pkg_args[] = {"--config", bad_pkg, NULL};
    const char *number_args[] = {"--config", number, NULL};
    char *const env[] = {(char *)"HOME=/home/u", (char *)"BANGERD_IMAGE_DEV_PACKAGES=gdb", NULL};
    char *const bad_env[] = {(char *)"HOME=/home/u", (char *)"BANGERD_IMAGE_DEV_PACKAGES=a=1",
                             NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, home_env, &err), 0);
    assert_string_equal(cfg.vm_default_image, "default");
    assert_string_equal(cfg.image_dev_packages, "");
    assert_source(&cfg, BG_CONFIG_KEY_VM_DEFAULT_IMAGE, "default");
    bg_config_done(&cfg);
    assert_int_equal(load(&cfg, good_args, home_env, &err), 0);
    assert_string_equal(cfg.vm_default_image, "dev");
    assert_string_equal(cfg.image_dev_packages, "vim jq strace");
    json_t *j = bg_config_to_json(&cfg);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "vm_default_image"), "value")), "dev");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "image_dev_packages"), "value")),
        "vim jq strace");
    json_decref(j);
    bg_config_done(&cfg);
    assert_int_equal(load(&cfg, good_args, env, &err), 0);
    assert_string_equal(cfg.image_dev_packages, "gdb");
    assert_source(&cfg, BG_CONFIG_KEY_IMAGE_DEV_PACKAGES, "env:BANGERD_IMAGE_DEV_PACKAGES");
    bg_config_done(&cfg);
    assert_int_equal(load(&cfg, bad_name_args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "key 'vm_default_image': name may contain only"));
    assert_int_equal(load(&cfg, bad_pkg_args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "key 'image_dev_packages': package name may contain only"));
    assert_int_equal(load(&cfg, number_args, home_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "expected a string, got an integer"));
    assert_int_equal(load(&cfg, NULL, bad_env, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "BANGERD_IMAGE_DEV_PACKAGES: package name may contain only"));
}

/* The TLS listener's keys: listen_tcp as an address, the certificate and key together, the
 * pinned client fingerprints normalised; and their refusals. */
static void test_tls_keys(void **state)
{
    (void)state;
    static const char fp_hex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    bg_autofree char *file = write_text(
        "tls.toml", "listen_tcp = \"[::1]:8443\"\n"
                    "tls_client_fingerprints = \"sha256:00112233445566778899AABBCCDDEEFF"
                    "00112233445566778899aabbccddeeff, 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:"
                    "ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\"\n"
                    "tls_cert = \"/etc/banger/tls.crt\"\ntls_key = \"/etc/banger/tls.key\"\n");
    const char *args[] = {"--config", file, NULL};
    struct bg_config cfg;
    struct bg_error err;

    assert_int_equal(load(&cfg, NULL, home_env, &err), 0);
    assert_null(cfg.listen_tcp);
    assert_null(cfg.tls_client_fingerprints);
    bg_config_done(&cfg);
    assert_int_equal(load(&cfg, args, home_env, &err), 0);
    assert_string_equal(cfg.listen_tcp, "[::1]:8443");
    assert_string_equal(cfg.tls_cert, "/etc/banger/tls.crt");
    bg_autofree char *both = bg_asprintf("%s,%s", fp_hex, fp_hex);
    assert_string_equal(cfg.tls_client_fingerprints, both);
    json_t *j = bg_config_to_json(&cfg);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "listen_tcp"), "value")),
        "[::1]:8443");
    json_decref(j);
    bg_config_done(&cfg);

    static const struct {
        const char *var;
        const char *msg;
    } bad[] = {
        {"BANGERD_LISTEN_TCP=localhost:8443", "host names are not resolved"},
        {"BANGERD_LISTEN_TCP=127.0.0.1", "is not ADDR:PORT"},
        {"BANGERD_LISTEN_TCP=127.0.0.1:65536", "the port"},
        {"BANGERD_LISTEN_TCP=127.0.0.1:", "the port"},
        {"BANGERD_LISTEN_TCP=::1:8443", "not an IPv4 address or an IPv6 one in brackets"},
        {"BANGERD_LISTEN_TCP=[::g]:8443", "not an IPv6 address in brackets"},
        {"BANGERD_LISTEN_TCP=:8443", "is not ADDR:PORT"},
        {"BANGERD_TLS_CLIENT_FINGERPRINTS=abc", "fingerprint 1: a SHA-256 fingerprint is 64"},
        {"BANGERD_TLS_CLIENT_FINGERPRINTS=00112233445566778899aabbccddeeff00112233445566778899aab"
         "bccddeeff,,",
         "fingerprint 2"},
        {"BANGERD_TLS_CLIENT_FINGERPRINTS=00112233445566778899aabbccddeeff00112233445566778899aab"
         "bccddeeff;x",
         "fingerprint 1"},
        {"BANGERD_TLS_CERT=/etc/banger/tls.crt", "tls_cert and tls_key go together"},
        {"BANGERD_TLS_KEY=/etc/banger/tls.key", "tls_cert and tls_key go together"},
    };
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        char *const envp[] = {(char *)bad[i].var, (char *)"HOME=/home/u", NULL};
        int r = load(&cfg, NULL, envp, &err);
        if (r != -EINVAL || !strstr(err.msg, bad[i].msg))
            fail_msg("case %zu: got %d '%s', want '%s'", i, r, err.msg, bad[i].msg);
    }
    /* at most 16 fingerprints */
    char many[20 * 66] = "BANGERD_TLS_CLIENT_FINGERPRINTS=";
    for (int i = 0; i < 17; i++)
        strcat(strcat(many, i ? "," : ""), fp_hex);
    char *const envp[] = {many, (char *)"HOME=/home/u", NULL};
    assert_int_equal(load(&cfg, NULL, envp, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "at most 16 fingerprints"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_keys),
        cmocka_unit_test(test_tls_keys),
        cmocka_unit_test(test_config_not_regular),
        cmocka_unit_test(test_bool_key),
        cmocka_unit_test(test_defaults_user),
        cmocka_unit_test(test_defaults_xdg),
        cmocka_unit_test(test_xdg_relative_ignored),
        cmocka_unit_test(test_no_home),
        cmocka_unit_test(test_system_flag),
        cmocka_unit_test(test_system_env_and_file),
        cmocka_unit_test(test_mode_conflict),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_sample_file),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_socket_follows_runtime_dir),
        cmocka_unit_test(test_file_refusals),
        cmocka_unit_test(test_file_long_line_and_nul),
        cmocka_unit_test(test_missing_config),
        cmocka_unit_test(test_env_refusals),
        cmocka_unit_test(test_flag_refusals),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_vmm_and_accel),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
