/* SPDX-License-Identifier: MIT */
/* Unit tests for client/git.c: git's output read whole, its exit code, the output bound, and
 * a repository's fsmonitor hook never run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "git.h"
#include "testutil.h"

static void sh(const char *cmd)
{
    if (system(cmd) != 0)
        fail_msg("'%s' failed", cmd);
}

/* A repository with one tracked file, and an fsmonitor hook that would leave a mark. */
static char *make_repo(void)
{
    char *repo = bg_asprintf("%s/repo", bg_test_dir());
    bg_autofree char *cmd =
        bg_asprintf("rm -rf %s && git init -q %s && cd %s && echo hi > a.txt && git add a.txt && "
                    "git -c user.email=t@e -c user.name=t commit -qm one && "
                    "git config core.fsmonitor 'touch %s/fsmonitor-ran; false'",
                    repo, repo, repo, repo);
    sh(cmd);
    return repo;
}

static void test_output_and_status(void **state)
{
    (void)state;
    bg_autofree char *repo = make_repo();
    static const char *const ls[] = {"ls-files", "-z", NULL};
    static const char *const bad[] = {"rev-parse", "--verify", "no-such-ref", NULL};
    struct bg_error err = {0};
    char *out = NULL;
    size_t len = 0;
    int status = -1;

    assert_int_equal(bg_cli_git(repo, ls, 4096, &out, &len, &status, &err), 0);
    assert_int_equal(status, 0);
    assert_int_equal(len, strlen("a.txt") + 1);
    assert_memory_equal(out, "a.txt", len);
    free(out);
    bg_autofree char *mark = bg_asprintf("%s/fsmonitor-ran", repo);
    assert_int_not_equal(access(mark, F_OK), 0);

    assert_int_equal(bg_cli_git(repo, bad, 4096, &out, &len, &status, &err), 0);
    assert_int_not_equal(status, 0);
    free(out);
}

static void test_bound(void **state)
{
    (void)state;
    bg_autofree char *repo = make_repo();
    static const char *const ls[] = {"ls-files", NULL};
    struct bg_error err = {0};
    char *out = NULL;
    size_t len = 0;
    int status = 0;

    assert_int_equal(bg_cli_git(repo, ls, 3, &out, &len, &status, &err), -E2BIG);
    assert_non_null(strstr(err.msg, "more than 3 bytes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_and_status),
        cmocka_unit_test(test_bound),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
