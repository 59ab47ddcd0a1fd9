/* SPDX-License-Identifier: MIT */
/* Tests for server/workspace/push.c against the real banger-agent in --serve-unix mode (the
 * "guest" is this host, its tar extracts into a test directory): copy and clone pushes, the
 * fields of refusals, and the watchdog: a stopped guest tar that takes no data, one that
 * never ends, and a client that goes away while a write waits for the guest. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "guest/agentconn.h"
#include "testutil.h"
#include "workspace/push.h"
#include "workspace_test.h"

#define DEADLINE_MS 20000
#define INVALID BG_ERR(BG_PROBLEM_INVALID_FIELD)

static struct {
    pid_t pid;
    char sock[PATH_MAX];
    struct bg_agent_conn *conn;
} agent;

/* BANGER_AGENT, else the agent built beside this test (build/agent/banger-agent). */
static char *agent_path(void)
{
    const char *env = getenv("BANGER_AGENT");
    char self[PATH_MAX];
    ssize_t n;

    if (env)
        return bg_strdup(env);
    if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
        return NULL;
    self[n] = '\0';
    char *p = bg_asprintf("%s/../../agent/banger-agent", dirname(self));
    if (access(p, X_OK) == 0)
        return p;
    free(p);
    return NULL;
}

static struct bg_agent_conn *agent_connect(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int64_t deadline = bg_now_ms() + DEADLINE_MS;
    struct bg_agent_conn *c = NULL;
    struct bg_error err;

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", agent.sock);
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            if (bg_agent_conn_open(fd, deadline, &c, &err) < 0)
                fail_msg("open: %s", err.msg);
            return c;
        }
        (void)close(fd);
        if (bg_now_ms() >= deadline)
            fail_msg("connect %s: %s", agent.sock, strerror(errno));
        (void)usleep(10000);
    }
}

static int group_setup(void **state)
{
    bg_autofree char *bin = agent_path();

    (void)signal(SIGPIPE, SIG_IGN);
    if (bg_test_dir_setup(state) < 0)
        return -1;
    if (!bin) {
        fprintf(stderr, "banger-agent not found: set BANGER_AGENT to its path\n");
        return 0;
    }
    snprintf(agent.sock, sizeof(agent.sock), "%s/agent.sock", bg_test_dir());
    agent.pid = fork();
    if (agent.pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* a test that aborts takes the agent along */
        execl(bin, bin, "--serve-unix", agent.sock, (char *)NULL);
        _exit(127);
    }
    if (agent.pid < 0)
        return -1;
    agent.conn = agent_connect();
    return 0;
}

static int group_teardown(void **state)
{
    bg_agent_conn_free(agent.conn);
    if (agent.pid > 0) {
        (void)kill(agent.pid, SIGKILL);
        (void)waitpid(agent.pid, NULL, 0);
    }
    return bg_test_dir_teardown(state);
}

static char *path_in(const char *name)
{
    return bg_asprintf("%s/%s", bg_test_dir(), name);
}

/* The pid of the guest's `tar -x -C guest_dir -f -`, 0 when there is none. */
static pid_t find_tar(const char *guest_dir)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    pid_t found = 0;

    assert_non_null(d);
    while (!found && (de = readdir(d))) {
        char path[300], cmd[PATH_MAX + 64];
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
        fclose(f);
        cmd[n] = '\0';
        const char *want[] = {"tar", "-x", "-C", guest_dir, "-f", "-"};
        size_t off = 0, i = 0;
        for (; i < BG_ARRAY_SIZE(want) && off < n && !strcmp(cmd + off, want[i]); i++)
            off += strlen(cmd + off) + 1;
        if (i == BG_ARRAY_SIZE(want))
            found = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return found;
}

/* Wait (with a deadline) until the guest tar of guest_dir is gone. */
static void assert_tar_gone(const char *guest_dir)
{
    int64_t deadline = bg_now_ms() + DEADLINE_MS;

    while (find_tar(guest_dir) != 0) {
        if (bg_now_ms() >= deadline)
            fail_msg("the guest tar of %s still runs", guest_dir);
        (void)usleep(20000);
    }
}

/* The test's cancel callback, which also plays the hung guest: once the guest tar exists it
 * is stopped (SIGSTOP) when stop_tar, and the cancel answers true from the moment the tar
 * exists (cancel_at 1) or after cancel_at calls counted from then (0: never). */
struct watch {
    pthread_mutex_t lock;
    const char *guest_dir;
    bool stop_tar;
    int cancel_at;
    pid_t tar;
    int calls;
};

static bool watch_cb(void *cls)
{
    struct watch *w = cls;
    bool cancel = false;

    pthread_mutex_lock(&w->lock);
    if (!w->tar && (w->tar = find_tar(w->guest_dir)) && w->stop_tar)
        (void)kill(w->tar, SIGSTOP);
    if (w->tar && w->cancel_at > 0)
        cancel = ++w->calls >= w->cancel_at;
    pthread_mutex_unlock(&w->lock);
    return cancel;
}

static void make_repo(const char *repo, bool big)
{
    WS_RUN("mkdir -p %s/src && cd %s && git init -q -b main . && echo hello > src/hello.txt && "
           "printf '#!/bin/sh\\n' > run.sh && chmod 755 run.sh && ln -s src/hello.txt lnk && "
           "%s git add -A && " WS_GIT_COMMIT
           " one && git tag v1 && echo two >> src/hello.txt && " WS_GIT_COMMIT
           " two -a && echo uncommitted >> src/hello.txt",
           repo, repo, big ? "head -c 4194304 /dev/urandom > big.bin &&" : "");
}

static int push(const char *repo, const char *guest, bool clone, const char *from,
                const char *branch, struct watch *w, int stall_ms, int finish_ms,
                struct bg_workspace_result *res, struct bg_field_error *f, struct bg_error *err)
{
    struct bg_workspace_request req = {
        .path = (char *)repo, .clone = clone, .from = (char *)from, .branch = (char *)branch};
    struct bg_workspace_push_opts o = {
        .state_dir = bg_test_dir(),
        .guest_dir = guest,
        .cancel = {.fn = w ? watch_cb : NULL, .cls = w},
        .stall_ms = stall_ms,
        .finish_ms = finish_ms,
    };

    return bg_workspace_push(agent.conn, &req, &o, res, f, err);
}

static void test_push_copy(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("copyrepo");
    bg_autofree char *guest = path_in("guest-copy");
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, false);
    if (push(repo, guest, false, NULL, NULL, NULL, 0, 0, &res, &f, &err) < 0)
        fail_msg("push: %s", err.msg);
    assert_int_equal(res.files, 3);
    assert_true(res.bytes > 0 && res.bytes % 512 == 0);
    /* the work tree as it is, modes and the link included; no history */
    WS_RUN("diff -r --no-dereference -x .git %s %s && test -x %s/run.sh && test -L %s/lnk && "
           "! test -e %s/.git",
           repo, guest, guest, guest, guest);
}

static void test_push_clone(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("clonerepo");
    bg_autofree char *guest = path_in("guest-clone");
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, false);
    if (push(repo, guest, true, "v1", "feature", NULL, 0, 0, &res, &f, &err) < 0)
        fail_msg("push: %s", err.msg);
    char *out = ws_sh("cat %s/.git/HEAD %s/src/hello.txt && git -C %s status --porcelain", guest,
                      guest, guest);
    assert_string_equal(out, "ref: refs/heads/feature\nhello\n");
    free(out);
    /* the clone was removed */
    out = ws_sh("ls -A %s/" BG_WORKSPACE_TMP " | wc -l", bg_test_dir());
    assert_int_equal(atoi(out), 0);
    free(out);
}

static void test_push_refusals(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("refusedrepo");
    bg_autofree char *plain = path_in("plain");
    bg_autofree char *guest = path_in("guest-refused");
    bg_autofree char *file_guest = path_in("guest-is-a-file");
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, false);
    WS_RUN("mkdir -p %s", plain);
    assert_err(push(plain, guest, false, NULL, NULL, NULL, 0, 0, &res, &f, &err), err, INVALID,
               "is not inside a git work tree");
    assert_string_equal(f.field, "path");
    assert_err(push(repo, guest, true, "nosuch", "b", NULL, 0, 0, &res, &f, &err), err, INVALID,
               "field 'from': 'nosuch' is not a commit");
    assert_string_equal(f.field, "from");
    /* a tracked directory swapped for a link out of the tree */
    WS_RUN("cd %s && mv src src.old && ln -s /etc src", repo);
    assert_err(push(repo, guest, false, NULL, NULL, NULL, 0, 0, &res, &f, &err), err, INVALID,
               "'src/hello.txt': a directory on its way is a symlink");
    assert_string_equal(f.field, "path");
    WS_RUN("cd %s && rm src && mv src.old src && touch %s", repo, file_guest);
    /* a guest that cannot take the files */
    assert_err(push(repo, file_guest, false, NULL, NULL, NULL, 0, 0, &res, &f, &err), err, -EIO,
               "mkdir in the guest failed (exit 1)");
    assert_string_equal(f.field, "");
}

/* A guest tar that takes no data: the write waiting for credit ends at stall_ms. */
static void test_push_stalled_guest(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("stallrepo");
    bg_autofree char *guest = path_in("guest-stall");
    struct watch w = {PTHREAD_MUTEX_INITIALIZER, .guest_dir = guest, .stop_tar = true};
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, true); /* 4 MiB: more than the credit window and the pipe hold */
    int64_t t0 = bg_now_ms();
    assert_err(push(repo, guest, false, NULL, NULL, &w, 1000, 0, &res, &f, &err), err, -ETIMEDOUT,
               "the guest took no data for 1000 ms: its tar was killed");
    assert_true(w.tar > 0);
    assert_true(bg_now_ms() - t0 < DEADLINE_MS);
    assert_tar_gone(guest);
}

/* A guest tar that has all its input and never ends: killed finish_ms after the input. */
static void test_push_guest_never_ends(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("latereop");
    bg_autofree char *guest = path_in("guest-late");
    struct watch w = {PTHREAD_MUTEX_INITIALIZER, .guest_dir = guest, .stop_tar = true};
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, false); /* a few KiB: all of it fits the window */
    assert_err(push(repo, guest, false, NULL, NULL, &w, 60000, 1000, &res, &f, &err), err,
               -ETIMEDOUT, "tar in the guest did not finish within 1000 ms of its input's end");
    assert_tar_gone(guest);
}

/* The client goes away while a write waits for a guest that takes nothing: the transfer
 * ends long before the stall deadline, and the guest's tar is killed. */
static void test_push_cancel_while_blocked(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("cancelrepo");
    bg_autofree char *guest = path_in("guest-cancel");
    struct watch w = {PTHREAD_MUTEX_INITIALIZER, .guest_dir = guest, .stop_tar = true,
                      .cancel_at = 8};
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, true);
    int64_t t0 = bg_now_ms();
    assert_err(push(repo, guest, false, NULL, NULL, &w, 600000, 0, &res, &f, &err), err, -ECANCELED,
               "the client went away");
    assert_true(bg_now_ms() - t0 < DEADLINE_MS);
    assert_tar_gone(guest);
}

/* Gone before the first byte: nothing reaches the guest. */
static void test_push_cancel_at_once(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("cancelrepo2");
    bg_autofree char *guest = path_in("guest-cancel2");
    struct watch w = {PTHREAD_MUTEX_INITIALIZER, .guest_dir = guest, .cancel_at = 1};
    struct bg_workspace_result res;
    struct bg_field_error f;
    struct bg_error err;

    if (!agent.conn || !ws_have_git())
        skip();
    make_repo(repo, false);
    assert_err(push(repo, guest, false, NULL, NULL, &w, 0, 0, &res, &f, &err), err, -ECANCELED,
               "the client went away");
    assert_tar_gone(guest);
    char *out = ws_sh("ls -A %s | wc -l", guest);
    assert_int_equal(atoi(out), 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_copy),
        cmocka_unit_test(test_push_clone),
        cmocka_unit_test(test_push_refusals),
        cmocka_unit_test(test_push_stalled_guest),
        cmocka_unit_test(test_push_guest_never_ends),
        cmocka_unit_test(test_push_cancel_while_blocked),
        cmocka_unit_test(test_push_cancel_at_once),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
