/* SPDX-License-Identifier: MIT */
/* Unit tests for agent/cmdline.c and agent/listener.c: words of the kernel command line,
 * banger.agent= among them, and the unix and vsock listening sockets. The accept loop behind them
 * is driven through the real agent's
 * --serve-unix mode in test_agentconn. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"

/* The agent is its own static program, not part of a library the tests link: compile its
 * command-line and listener modules into this test. */
#include "../../agent/cmdline.c"
#include "../../agent/listener.c"

static void test_cmdline_value(void **state)
{
    char v[16];

    (void)state;
    assert_int_equal(
        bg_cmdline_value("console=ttyS0 banger.root=/dev/vda\n", "banger.root", v, sizeof(v)), 1);
    assert_string_equal(v, "/dev/vda");
    /* the last word wins; tabs and newlines separate words too */
    assert_int_equal(bg_cmdline_value("a=1\ta=2\na=3", "a", v, sizeof(v)), 1);
    assert_string_equal(v, "3");
    /* present but empty, absent, a look-alike key, a key without '=' */
    assert_int_equal(bg_cmdline_value("  a=  b=2", "a", v, sizeof(v)), 1);
    assert_string_equal(v, "");
    assert_int_equal(bg_cmdline_value("", "a", v, sizeof(v)), 0);
    assert_int_equal(bg_cmdline_value("xa=1 ab=2 a", "a", v, sizeof(v)), 0);
    assert_string_equal(v, "");
    /* exactly what fits, and one byte more: refused whole, never cut */
    assert_int_equal(bg_cmdline_value("a=0123456789abcde", "a", v, sizeof(v)), 1);
    assert_string_equal(v, "0123456789abcde");
    assert_int_equal(bg_cmdline_value("a=0123456789abcdef", "a", v, sizeof(v)), -ENAMETOOLONG);
    assert_string_equal(v, "");
    /* a long value cut inside a UTF-8 character would be another value: refused too */
    assert_int_equal(
        bg_cmdline_value("a=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "a",
                         v, sizeof(v)),
        -ENAMETOOLONG);
    /* only the last word counts: an earlier long one does not matter */
    assert_int_equal(bg_cmdline_value("a=0123456789abcdefghij a=ok", "a", v, sizeof(v)), 1);
    assert_string_equal(v, "ok");
}

/* The one word iterator: every separator run skipped, words returned whole. */
static void test_cmdline_words(void **state)
{
    static const char *const want[] = {"console=ttyS0", "a=1", "b", "c=\xc3\xa9"};
    const char *cursor = "  console=ttyS0\ta=1\n\n b  c=\xc3\xa9 \n", *word, *value;
    size_t len, value_len, n = 0;

    (void)state;
    while (bg_cmdline_next(&cursor, &word, &len)) {
        assert_true(n < BG_ARRAY_SIZE(want));
        assert_int_equal(len, strlen(want[n]));
        assert_memory_equal(word, want[n], len);
        n++;
    }
    assert_int_equal(n, BG_ARRAY_SIZE(want));
    assert_false(bg_cmdline_next(&cursor, &word, &len)); /* stays at the end */
    cursor = "";
    assert_false(bg_cmdline_next(&cursor, &word, &len));

    assert_true(bg_cmdline_match("key=v x", 5, "key", &value, &value_len));
    assert_int_equal(value_len, 1);
    assert_int_equal(value[0], 'v');
    assert_true(bg_cmdline_match("key=", 4, "key", &value, &value_len));
    assert_int_equal(value_len, 0);
    assert_false(bg_cmdline_match("key", 3, "key", &value, &value_len));
    assert_false(bg_cmdline_match("xkey=1", 6, "key", &value, &value_len));
    assert_false(bg_cmdline_match("keyx=1", 6, "key", &value, &value_len));
    /* the word ends at len, whatever follows it */
    assert_false(bg_cmdline_match("key=1", 3, "key", &value, &value_len));
}

static void test_channel(void **state)
{
    static const struct {
        const char *cmdline;
        enum bg_agent_channel want;
    } good[] = {
        {"", BG_AGENT_CHANNEL_PORT},
        {"console=ttyS0 banger.root=/dev/vda\n", BG_AGENT_CHANNEL_PORT},
        {"console=ttyS0 banger.agent=vsock reboot=k panic=1", BG_AGENT_CHANNEL_VSOCK},
        {"banger.agent=vsock\n", BG_AGENT_CHANNEL_VSOCK},
        {"banger.agent=port", BG_AGENT_CHANNEL_PORT},
        /* the last word wins, as the kernel's own parameters do */
        {"banger.agent=vsock banger.agent=port", BG_AGENT_CHANNEL_PORT},
        /* a look-alike key that is not ours */
        {"xbanger.agent=vsock", BG_AGENT_CHANNEL_PORT},
    };

    (void)state;
    for (size_t i = 0; i < BG_ARRAY_SIZE(good); i++) {
        enum bg_agent_channel ch = (enum bg_agent_channel) - 1;
        struct bg_error err = {0};

        if (bg_agent_channel_parse(good[i].cmdline, &ch, &err) < 0)
            fail_msg("'%s': %s", good[i].cmdline, err.msg);
        if (ch != good[i].want)
            fail_msg("'%s': channel %d, want %d", good[i].cmdline, ch, good[i].want);
    }
}

static void test_channel_refused(void **state)
{
    static const char *const bad[] = {"banger.agent=", "banger.agent=vsock2",
                                      "a banger.agent=serial b", "banger.agent=VSOCK",
                                      "banger.agent=vsockvsockvsockvsockvsockvsockvsock"};

    (void)state;
    for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
        enum bg_agent_channel ch = BG_AGENT_CHANNEL_VSOCK;
        struct bg_error err = {0};

        assert_err(bg_agent_channel_parse(bad[i], &ch, &err), err, -EINVAL,
                   "want 'vsock' or 'port'");
        assert_int_equal(ch, BG_AGENT_CHANNEL_VSOCK); /* untouched */
    }
}

static void test_unix_replaces_stale_socket(void **state)
{
    bg_autofree char *path = bg_asprintf("%s/a.sock", bg_test_dir());
    struct bg_error err = {0};
    struct sockaddr_un sa;
    socklen_t len = sizeof(sa);
    int fd = -1, fd2 = -1;

    (void)state;
    assert_int_equal(bg_listener_unix(path, &fd, &err), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    assert_string_equal(sa.sun_path, path);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    (void)close(fd);
    /* the socket file of a listener that is gone is stale: replaced */
    assert_int_equal(bg_listener_unix(path, &fd2, &err), 0);
    (void)close(fd2);
    (void)unlink(path);
}

static void test_unix_refusals(void **state)
{
    bg_autofree char *file = bg_asprintf("%s/not-a-socket", bg_test_dir());
    char longpath[200];
    struct bg_error err = {0};
    struct stat st;
    int fd = -1;

    (void)state;
    free(bg_test_write_file(file, "keep", 4));
    assert_err(bg_listener_unix(file, &fd, &err), err, -EADDRINUSE, "bind");
    assert_int_equal(stat(file, &st), 0); /* any other file is left alone */
    assert_int_equal(st.st_size, 4);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_err(bg_listener_unix(longpath, &fd, &err), err, -ENAMETOOLONG, "too long");
    assert_int_equal(fd, -1);
}

/* Where the host has vsock (a VM, or a host with vsock_loopback or vhost) the listener binds
 * the port on any CID; where it has none, the retries end at the deadline saying why. */
static void test_vsock(void **state)
{
    struct bg_error err = {0};
    int64_t start = bg_now_ms();
    int fd = -1;
    int r = bg_listener_vsock(52052, start + 200, &fd, &err);

    (void)state;
    if (r == 0) {
        struct sockaddr_vm sa;
        socklen_t len = sizeof(sa);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        assert_int_equal(sa.svm_family, AF_VSOCK);
        assert_int_equal(sa.svm_port, 52052);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        (void)close(fd);
        return;
    }
    assert_int_equal(err.code, r);
    assert_non_null(strstr(err.msg, "listen on vsock port 52052: "));
    assert_true(bg_now_ms() - start >= 200);
    assert_int_equal(fd, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmdline_value),
        cmocka_unit_test(test_cmdline_words),
        cmocka_unit_test(test_channel),
        cmocka_unit_test(test_channel_refused),
        cmocka_unit_test(test_unix_replaces_stale_socket),
        cmocka_unit_test(test_unix_refusals),
        cmocka_unit_test(test_vsock),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
