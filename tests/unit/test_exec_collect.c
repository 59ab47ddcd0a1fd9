/* SPDX-License-Identifier: MIT */
/* Tests for server/exec/collect.c (one-shot exec: capped output, timeout, cancel) against the
 * real banger-agent in --serve-unix mode. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "exec/collect.h"
#include "guest/agentconn.h"

#define DEADLINE_MS 20000

static struct {
    pid_t pid;
    char dir[64];
    char sock[128];
} agent;

/* BANGER_AGENT, or the agent of this build tree (tests/unit/.. /../agent/banger-agent). */
static char *agent_path(void)
{
    char self[PATH_MAX];
    ssize_t n;

    if (getenv("BANGER_AGENT"))
        return bg_strdup(getenv("BANGER_AGENT"));
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
        return NULL;
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    return bg_asprintf("%s/../../agent/banger-agent", self);
}

static int group_setup(void **state)
{
    bg_autofree char *bin = agent_path();

    (void)state;
    (void)signal(SIGPIPE, SIG_IGN);
    if (!bin || access(bin, X_OK) < 0) {
        fprintf(stderr, "no banger-agent at %s (set BANGER_AGENT)\n", bin ? bin : "?");
        return -1;
    }
    snprintf(agent.dir, sizeof(agent.dir), "/tmp/banger-collect-test.XXXXXX");
    if (!mkdtemp(agent.dir))
        return -1;
    snprintf(agent.sock, sizeof(agent.sock), "%s/agent.sock", agent.dir);
    agent.pid = fork();
    if (agent.pid == 0) {
        execl(bin, bin, "--serve-unix", agent.sock, (char *)NULL);
        _exit(127);
    }
    return agent.pid > 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    if (agent.pid > 0) {
        (void)kill(agent.pid, SIGKILL);
        (void)waitpid(agent.pid, NULL, 0);
    }
    (void)unlink(agent.sock);
    (void)rmdir(agent.dir);
    return 0;
}

/* Connect (retrying while the agent starts) and speak HELLO. */
static int setup(void **state)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int64_t deadline = bg_now_ms() + DEADLINE_MS;
    struct bg_agent_conn *c = NULL;
    struct bg_error err;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", agent.sock);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            if (bg_agent_conn_open(fd, deadline, &c, &err) < 0)
                fail_msg("open: %s", err.msg);
            *state = c;
            return 0;
        }
        (void)close(fd);
        if (bg_now_ms() >= deadline)
            fail_msg("connect %s: %s", agent.sock, strerror(errno));
        (void)usleep(10000);
    }
}

static int teardown(void **state)
{
    bg_agent_conn_free(*state);
    return 0;
}

static struct bg_agent_session *start(struct bg_agent_conn *c, const char *const *argv)
{
    struct bg_agent_exec_spec spec = {.argv = argv};
    struct bg_agent_session *s = NULL;
    struct bg_error err;

    if (bg_agent_exec(c, &spec, &s, &err) < 0)
        fail_msg("exec %s: %s", argv[0], err.msg);
    return s;
}

static void test_output_and_status(void **state)
{
    const char *const argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    struct bg_agent_session *s = start(*state, argv);
    struct bg_exec_output o;
    struct bg_error err;

    assert_int_equal(bg_exec_collect(s, 0, NULL, NULL, &o, &err), 0);
    assert_string_equal(o.out, "out\n");
    assert_string_equal(o.err, "err\n");
    assert_int_equal(o.exit_code, 3);
    assert_int_equal(o.signo, 0);
    assert_false(o.truncated || o.timed_out || o.cancelled);
    bg_exec_output_done(&o);
    bg_agent_session_free(s);
}

static void test_truncated(void **state)
{
    const char *const argv[] = {"head", "-c", "1100000", "/dev/zero", NULL};
    struct bg_agent_session *s = start(*state, argv);
    struct bg_exec_output o;
    struct bg_error err;

    assert_int_equal(bg_exec_collect(s, 0, NULL, NULL, &o, &err), 0);
    assert_int_equal(o.out_len, BG_EXEC_OUTPUT_MAX);
    assert_true(o.truncated);
    assert_int_equal(o.exit_code, 0);
    bg_exec_output_done(&o);
    bg_agent_session_free(s);
}

static void test_timeout(void **state)
{
    const char *const argv[] = {"sleep", "30", NULL};
    struct bg_agent_session *s = start(*state, argv);
    int64_t t0 = bg_now_ms();
    struct bg_exec_output o;
    struct bg_error err;

    assert_int_equal(bg_exec_collect(s, 1, NULL, NULL, &o, &err), 0);
    assert_true(o.timed_out);
    assert_false(o.cancelled);
    assert_int_equal(o.signo, SIGKILL);
    assert_true(bg_now_ms() - t0 < 10000);
    bg_exec_output_done(&o);
    bg_agent_session_free(s);
}

/* The cancel callback: true from its time on, counting its calls. */
struct cancel_at {
    int64_t at;
    int calls;
};

static bool cancel_at(void *cls)
{
    struct cancel_at *c = cls;

    c->calls++;
    return bg_now_ms() >= c->at;
}

/* A one-shot whose client went away: the command is killed soon after the callback says so,
 * and the outcome says why. */
static void test_cancelled(void **state)
{
    const char *const argv[] = {"sleep", "30", NULL};
    struct bg_agent_session *s = start(*state, argv);
    pid_t pid = bg_agent_session_pid(s);
    struct cancel_at c = {.at = bg_now_ms() + 300};
    struct bg_exec_output o;
    struct bg_error err;

    assert_int_equal(kill(pid, 0), 0);
    assert_int_equal(bg_exec_collect(s, 0, cancel_at, &c, &o, &err), 0);
    assert_true(o.cancelled);
    assert_false(o.timed_out);
    assert_int_equal(o.signo, SIGKILL);
    assert_int_equal(o.exit_code, -1);
    assert_true(c.calls >= 1);
    /* well before sleep would have ended: cancel is asked while the command is silent */
    assert_true(bg_now_ms() - c.at < 5000);
    /* reaped by the agent, which sent EXIT only after that */
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    bg_exec_output_done(&o);
    bg_agent_session_free(s);
}

/* A command that ends by itself never asks for more than it needs: no kill. */
static void test_not_cancelled(void **state)
{
    const char *const argv[] = {"echo", "done", NULL};
    struct bg_agent_session *s = start(*state, argv);
    struct cancel_at c = {.at = INT64_MAX};
    struct bg_exec_output o;
    struct bg_error err;

    assert_int_equal(bg_exec_collect(s, 0, cancel_at, &c, &o, &err), 0);
    assert_false(o.cancelled);
    assert_int_equal(o.exit_code, 0);
    assert_string_equal(o.out, "done\n");
    bg_exec_output_done(&o);
    bg_agent_session_free(s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_output_and_status), T(test_truncated),     T(test_timeout),
        T(test_cancelled),         T(test_not_cancelled),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
