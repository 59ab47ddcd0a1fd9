/* SPDX-License-Identifier: MIT */
/* Unit tests for server/host/run.c: output kept and capped, the stderr tail, exit codes and
 * signals, deadlines and cancels that kill the whole group, the clean environment, the PATH
 * search, and the detached spawn. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/proc.h"
#include "banger/timefmt.h"
#include "host/run.h"
#include "testutil.h"

static int run(const char *const *argv, int timeout_ms, struct bg_run_result *res,
               struct bg_error *err)
{
    struct bg_run_opts o = {.argv = argv, .out_fd = -1, .timeout_ms = timeout_ms};

    return bg_run(&o, res, err);
}

static void test_run_status_and_output(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_run_result res;
    const char *echo[] = {"echo", "hello", NULL};
    const char *fail[] = {"sh", "-c", "echo out; echo bad >&2; exit 3", NULL};
    const char *sig[] = {"sh", "-c", "kill -9 $$", NULL};
    const char *none[] = {"/nonexistent/tool", NULL};
    const char *unknown[] = {"banger-no-such-tool", NULL};

    assert_int_equal(run(echo, 5000, &res, &err), 0);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "hello\n");
    bg_run_result_done(&res);
    assert_int_equal(run(fail, 5000, &res, &err), 0);
    assert_int_equal(res.status, 3);
    assert_string_equal(res.out, "out\n");
    assert_string_equal(res.err, "bad\n");
    bg_run_result_done(&res);
    assert_int_equal(run(sig, 5000, &res, &err), 0);
    assert_int_equal(res.status, 128 + 9);
    bg_run_result_done(&res);
    assert_err(run(none, 100, &res, &err), err, -ENOENT, "cannot run /nonexistent/tool");
    assert_err(run(unknown, 100, &res, &err), err, -ENOENT, "banger-no-such-tool not found");
}

static void test_run_ok(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_run_result res;
    const char *fail[] = {"sh", "-c", "echo first >&2; echo 'the reason' >&2; exit 4", NULL};
    const char *quiet[] = {"false", NULL};
    struct bg_run_opts o = {.argv = fail, .out_fd = -1};

    assert_err(bg_run_ok(&o, &res, &err), err, -EIO, "sh failed (exit 4): the reason");
    o.argv = quiet;
    assert_err(bg_run_ok(&o, &res, &err), err, -EIO, "false failed (exit 1): no message");
}

/* What on_output saw, per stream. */
struct seen {
    char out[256], err[256];
};

static void on_output(void *cls, int stream, const char *buf, size_t n)
{
    struct seen *s = cls;
    char *dst = stream == 1 ? s->out : s->err;
    size_t len = strlen(dst);

    assert_true(stream == 1 || stream == 2);
    assert_true(len + n < sizeof(s->out));
    memcpy(dst + len, buf, n);
    dst[len + n] = '\0';
}

static void test_run_on_output(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_run_result res;
    struct seen seen = {"", ""};
    const char *argv[] = {"sh", "-c", "echo one; echo two >&2; echo three", NULL};
    struct bg_run_opts o = {.argv = argv, .out_fd = -1, .on_output = on_output, .cls = &seen};

    assert_int_equal(bg_run(&o, &res, &err), 0);
    assert_string_equal(seen.out, "one\nthree\n");
    assert_string_equal(seen.err, "two\n");
    /* and what is kept is the same */
    assert_string_equal(res.out, "one\nthree\n");
    assert_string_equal(res.err, "two\n");
    bg_run_result_done(&res);
}

static void test_run_caps(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_run_result res;
    const char *much[] = {"sh", "-c", "seq 1 100000; seq 1 100000 >&2", NULL};
    struct bg_run_opts o = {.argv = much, .out_fd = -1, .out_max = 16};

    /* more than is kept: the rest is read and dropped, so the program never blocks */
    assert_int_equal(bg_run(&o, &res, &err), 0);
    assert_int_equal(res.status, 0);
    assert_true(res.out_truncated);
    assert_string_equal(res.out, "1\n2\n3\n4\n5\n6\n7\n8\n");
    /* stderr keeps its tail */
    assert_int_equal(res.err_len, BG_RUN_ERR_MAX);
    assert_non_null(strstr(res.err, "99999\n100000\n"));
    bg_run_result_done(&res);
}

static bool cancel_now(void *cls)
{
    (void)cls;
    return true;
}

static void test_run_deadline_and_cancel(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_run_result res;
    /* ignores SIGTERM, and its child holds the output pipe open */
    const char *stubborn[] = {"sh", "-c", "trap '' TERM; sleep 60 & wait", NULL};
    struct bg_run_opts o = {.argv = stubborn, .out_fd = -1, .cancelled = cancel_now};
    int64_t t0 = bg_now_ms();

    assert_err(run(stubborn, 200, &res, &err), err, -ETIMEDOUT, "killed after 200 ms");
    /* not the 60 s of the sleep: the whole group was killed */
    assert_true(bg_now_ms() - t0 < 30000);
    assert_err(bg_run(&o, &res, &err), err, -ECANCELED, "cancelled");
}

static void test_run_clean_env_and_cwd(void **state)
{
    (void)state;
    struct bg_error err = {0};
    struct bg_run_result res;
    const char *env[] = {"sh", "-c", "echo \"$LC_ALL:${SECRET-unset}\"; pwd", NULL};
    struct bg_run_opts o = {.argv = env, .out_fd = -1, .cwd = "/"};

    setenv("SECRET", "x", 1);
    assert_int_equal(bg_run(&o, &res, &err), 0);
    assert_string_equal(res.out, "C:unset\n/\n");
    bg_run_result_done(&res);
    unsetenv("SECRET");
}

static void test_find_program(void **state)
{
    (void)state;
    struct bg_error err = {0};
    char *path = NULL;

    assert_int_equal(bg_run_find_program("sh", &path, &err), 0);
    assert_true(path[0] == '/');
    free(path);
    assert_err(bg_run_find_program("/nonexistent/sh", &path, &err), err, -ENOENT,
               "not an executable file");
}

static void test_detached_and_stop(void **state)
{
    (void)state;
    struct bg_error err = {0};
    bg_autofree char *log = bg_asprintf("%s/log", bg_test_dir());
    char *sleep_bin = NULL;
    pid_t pid = 0;
    uint64_t st;
    char s;
    int fd = -1;

    assert_int_equal(bg_run_find_program("sleep", &sleep_bin, &err), 0);
    const char *argv[] = {sleep_bin, "30", NULL};
    assert_int_equal(bg_run_detached(argv, log, &pid, &err), 0);
    assert_true(pid > 0);
    assert_int_equal(bg_proc_stat(pid, &s, &st, &err), 0);
    assert_int_not_equal(getsid(pid), getsid(0)); /* its own session */

    /* a wrong start time never gets a pidfd: the pid is treated as someone else's */
    assert_err(bg_proc_pidfd_open(pid, st + 1, &fd, &err), err, -ESRCH, "another process");
    assert_int_equal(bg_proc_pidfd_open(pid, st, &fd, &err), 0);
    assert_int_equal(bg_proc_pidfd_wait(fd, 10), 0);
    assert_int_equal(bg_proc_pidfd_signal(fd, SIGTERM, &err), 0);
    assert_int_equal(bg_proc_pidfd_wait(fd, 5000), 1);
    close(fd);

    const char *bad[] = {"/nonexistent/qemu", NULL};
    assert_err(bg_run_detached(bad, log, &pid, &err), err, -ENOENT, "/nonexistent/qemu");
    free(sleep_bin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_status_and_output),
        cmocka_unit_test(test_run_ok),
        cmocka_unit_test(test_run_on_output),
        cmocka_unit_test(test_run_caps),
        cmocka_unit_test(test_run_deadline_and_cancel),
        cmocka_unit_test(test_run_clean_env_and_cwd),
        cmocka_unit_test(test_find_program),
        cmocka_unit_test(test_detached_and_stop),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
