/* SPDX-License-Identifier: MIT */
/* Tests for server/files/ (put, get) against the real banger-agent in --serve-unix mode: the
 * "guest" is this host and its tar does the unpacking and packing in a test directory. A tree
 * with modes, symlinks and a big file goes in and comes back byte-exact; the refusals; the
 * watchdog (a guest tar that takes no data) and the cancel, each leaving no tar behind. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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
#include "files/get.h"
#include "files/put.h"
#include "guest/agentconn.h"
#include "testutil.h"
#include "workspace_test.h"

#define DEADLINE_MS 20000
#define FAILED BG_ERR(BG_PROBLEM_FILES_FAILED)

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
    if (bg_test_dir_setup(state) < 0 || !bin)
        return -1;
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
    /* the source tree: modes, a symlink, an empty directory, a name with a space, 3 MiB */
    WS_RUN("cd %s && mkdir -p src/d/sub src/d/empty && echo hello > src/d/f && chmod 640 "
           "src/d/f && printf 'x' > 'src/d/sub/a b' && chmod 775 src/d/sub && ln -s f src/d/l "
           "&& ln -s /nowhere src/d/dangling && head -c 3145728 /dev/urandom > src/d/big && "
           "chmod 751 src/d && tar -cf d.tar -C src d",
           bg_test_dir());
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

/* A listing of dir's tree that shows what must survive: names, types, modes, link targets and
 * contents' checksums. */
static char *tree(const char *dir)
{
    return ws_sh("cd %s && find . -printf '%%p %%y %%m %%l\\n' | sort && find . -type f -print0 "
                 "| sort -z | xargs -0 sha256sum",
                 dir);
}

/* The pid of a tar of this test whose first argument is mode ("-x", "-c"), 0 when none. */
static pid_t find_tar(const char *mode)
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
        size_t first = strlen(cmd) + 1;
        /* only tars below the test directory (-C DIR is the fifth or sixth argument) */
        if (!strcmp(cmd, "tar") && first < n && !strcmp(cmd + first, mode) &&
            memmem(cmd, n, bg_test_dir(), strlen(bg_test_dir())))
            found = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return found;
}

static void assert_tar_gone(const char *mode)
{
    int64_t deadline = bg_now_ms() + DEADLINE_MS;

    while (find_tar(mode) != 0) {
        if (bg_now_ms() >= deadline)
            fail_msg("a guest tar %s still runs", mode);
        (void)usleep(20000);
    }
}

/* Feed the file at path into p in pieces of piece bytes. */
static int feed(struct bg_files_put *p, const char *path, size_t piece, struct bg_error *err)
{
    size_t len;
    char *data = bg_test_slurp(path, &len);
    int r = 0;

    for (size_t off = 0; off < len && r == 0; off += piece)
        r = bg_files_put_write(p, data + off, len - off < piece ? len - off : piece, err);
    free(data);
    return r;
}

static void test_put_tree(void **state)
{
    (void)state;
    bg_autofree char *tarball = bg_asprintf("%s/d.tar", bg_test_dir());
    bg_autofree char *dst = bg_asprintf("%s/dst/not/yet", bg_test_dir());
    struct bg_files_opts opts = {0};
    struct bg_files_result res;
    struct bg_files_put *p;
    struct bg_error err;

    if (bg_files_put_begin(agent.conn, dst, &opts, &p, &err) < 0)
        fail_msg("begin: %s", err.msg);
    if (feed(p, tarball, 100000, &err) < 0 || bg_files_put_finish(p, &res, &err) < 0)
        fail_msg("put: %s", err.msg);
    bg_files_put_free(p);
    /* d, d/f, d/sub, d/sub/a b, d/empty, d/l, d/dangling, d/big */
    assert_int_equal(res.files, 8);
    size_t len;
    free(bg_test_slurp(tarball, &len));
    assert_int_equal(res.bytes, len);
    bg_autofree char *src_dir = bg_asprintf("%s/src/d", bg_test_dir());
    bg_autofree char *dst_dir = bg_asprintf("%s/d", dst);
    bg_autofree char *want = tree(src_dir);
    bg_autofree char *got = tree(dst_dir);
    assert_string_equal(got, want);
}

/* Read the whole archive of g into the file at path. */
static ssize_t drain_to(struct bg_files_get *g, const char *path, struct bg_error *err)
{
    FILE *f = fopen(path, "we");
    char buf[65536];
    ssize_t n, total = 0;

    assert_non_null(f);
    while ((n = bg_files_get_read(g, buf, sizeof(buf), err)) > 0) {
        assert_int_equal(fwrite(buf, 1, (size_t)n, f), (size_t)n);
        total += n;
    }
    fclose(f);
    return n < 0 ? n : total;
}

static void test_get_tree_and_file(void **state)
{
    (void)state;
    bg_autofree char *src = bg_asprintf("%s/src/d", bg_test_dir());
    bg_autofree char *out = bg_asprintf("%s/out.tar", bg_test_dir());
    struct bg_files_opts opts = {0};
    struct bg_files_path path;
    struct bg_files_get *g;
    struct bg_error err;

    /* a trailing '/' names the same directory */
    bg_autofree char *raw = bg_asprintf("%s/", src);
    assert_int_equal(bg_files_path_parse(raw, true, &path, &err), 0);
    if (bg_files_get_begin(agent.conn, &path, &opts, &g, &err) < 0)
        fail_msg("begin: %s", err.msg);
    ssize_t n = drain_to(g, out, &err);
    if (n < 0)
        fail_msg("read: %s", err.msg);
    assert_int_equal(bg_files_get_bytes(g), (uint64_t)n);
    /* after the end, the end again */
    char c;
    assert_int_equal(bg_files_get_read(g, &c, 1, &err), 0);
    bg_files_get_free(g);
    WS_RUN("mkdir -p %s/back && tar -xf %s -C %s/back", bg_test_dir(), out, bg_test_dir());
    bg_autofree char *back = bg_asprintf("%s/back/d", bg_test_dir());
    bg_autofree char *want = tree(src);
    bg_autofree char *got = tree(back);
    assert_string_equal(got, want);

    /* one file: its name is the top (and only) entry */
    bg_autofree char *file = bg_asprintf("%s/src/d/sub/a b", bg_test_dir());
    assert_int_equal(bg_files_path_parse(file, true, &path, &err), 0);
    assert_int_equal(bg_files_get_begin(agent.conn, &path, &opts, &g, &err), 0);
    assert_true(drain_to(g, out, &err) > 0);
    bg_files_get_free(g);
    bg_autofree char *list = ws_sh("tar -tf %s", out);
    assert_string_equal(list, "a b\n");

    /* a dangling symlink exists: it is archived as the link it is */
    bg_autofree char *dangling = bg_asprintf("%s/src/d/dangling", bg_test_dir());
    assert_int_equal(bg_files_path_parse(dangling, true, &path, &err), 0);
    assert_int_equal(bg_files_get_begin(agent.conn, &path, &opts, &g, &err), 0);
    assert_true(drain_to(g, out, &err) > 0);
    bg_files_get_free(g);
    bg_autofree char *verbose = ws_sh("tar -tvf %s", out);
    assert_non_null(strstr(verbose, "dangling -> /nowhere"));
}

static void test_refusals(void **state)
{
    (void)state;
    bg_autofree char *file = bg_asprintf("%s/src/d/f", bg_test_dir());
    bg_autofree char *into_file = bg_asprintf("%s/src/d/f/below", bg_test_dir());
    bg_autofree char *dst = bg_asprintf("%s/garbage", bg_test_dir());
    bg_autofree char *missing = bg_asprintf("%s/src/nothing-here", bg_test_dir());
    struct bg_files_opts opts = {0};
    struct bg_files_result res;
    struct bg_files_path path;
    struct bg_files_put *p;
    struct bg_files_get *g;
    struct bg_error err;
    int r;

    /* a directory that cannot be made: a file is in the way */
    r = bg_files_put_begin(agent.conn, file, &opts, &p, &err);
    assert_err(r, err, FAILED, "cannot make the directory in the guest");
    r = bg_files_put_begin(agent.conn, into_file, &opts, &p, &err);
    assert_err(r, err, FAILED, "Not a directory");

    /* not an archive: the guest's tar says so */
    assert_int_equal(bg_files_put_begin(agent.conn, dst, &opts, &p, &err), 0);
    static const char junk[] = "this is not a tar archive, not at all, not even close to one";
    char block[4096];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = junk[i % (sizeof(junk) - 1)];
    (void)bg_files_put_write(p, block, sizeof(block), &err);
    r = bg_files_put_finish(p, &res, &err);
    assert_err(r, err, FAILED, "tar in the guest failed");
    bg_files_put_free(p);

    /* nothing there to get */
    assert_int_equal(bg_files_path_parse(missing, true, &path, &err), 0);
    r = bg_files_get_begin(agent.conn, &path, &opts, &g, &err);
    assert_err(r, err, BG_ERR(BG_PROBLEM_PATH_NOT_FOUND), "no file or directory");
    assert_tar_gone("-x");
    assert_tar_gone("-c");
}

/* The test's cancel, which also plays the hung guest: once a tar of mode exists it is stopped
 * (SIGSTOP), and the cancel answers cancel_now from then on. */
struct hang {
    const char *mode;
    atomic_bool cancel_now;
    pid_t tar;
};

static bool hang_cb(void *cls)
{
    struct hang *h = cls;

    if (!h->tar && (h->tar = find_tar(h->mode)))
        (void)kill(h->tar, SIGSTOP);
    return h->tar && h->cancel_now;
}

/* A guest tar that takes no data is killed after stall_ms, and the write fails at once. */
static void test_put_stalled(void **state)
{
    (void)state;
    bg_autofree char *tarball = bg_asprintf("%s/d.tar", bg_test_dir());
    bg_autofree char *dst = bg_asprintf("%s/stalled", bg_test_dir());
    struct hang h = {.mode = "-x"};
    struct bg_files_opts opts = {.cancel = {hang_cb, &h}, .stall_ms = 500};
    struct bg_files_result res;
    struct bg_files_put *p;
    struct bg_error err;

    assert_int_equal(bg_files_put_begin(agent.conn, dst, &opts, &p, &err), 0);
    int64_t t0 = bg_now_ms();
    assert_true(feed(p, tarball, 65536, &err) < 0);
    assert_true(bg_now_ms() - t0 < DEADLINE_MS);
    int r = bg_files_put_finish(p, &res, &err);
    assert_err(r, err, -ETIMEDOUT, "took no data for 500 ms");
    bg_files_put_free(p);
    assert_tar_gone("-x");
}

static void test_cancel(void **state)
{
    (void)state;
    bg_autofree char *tarball = bg_asprintf("%s/d.tar", bg_test_dir());
    bg_autofree char *dst = bg_asprintf("%s/cancelled", bg_test_dir());
    bg_autofree char *src = bg_asprintf("%s/src/d", bg_test_dir());
    struct hang h = {.mode = "-x", .cancel_now = true};
    struct bg_files_opts opts = {.cancel = {hang_cb, &h}};
    struct bg_files_result res;
    struct bg_files_path path;
    struct bg_files_put *p;
    struct bg_files_get *g;
    struct bg_error err;
    char buf[4096];
    int r;

    /* put: a write sees the cancel, the tar is killed */
    assert_int_equal(bg_files_put_begin(agent.conn, dst, &opts, &p, &err), 0);
    int64_t deadline = bg_now_ms() + DEADLINE_MS;
    while (!hang_cb(&h))
        assert_true(bg_now_ms() < deadline);
    r = feed(p, tarball, 65536, &err);
    assert_err(r, err, -ECANCELED, "cancelled");
    r = bg_files_put_finish(p, &res, &err);
    assert_err(r, err, -ECANCELED, "cancelled");
    bg_files_put_free(p);
    assert_tar_gone("-x");

    /* get: a guest that sends nothing while the client is gone */
    struct hang hg = {.mode = "-c", .cancel_now = true};
    opts.cancel = (struct bg_files_cancel){hang_cb, &hg};
    assert_int_equal(bg_files_path_parse(src, true, &path, &err), 0);
    assert_int_equal(bg_files_get_begin(agent.conn, &path, &opts, &g, &err), 0);
    ssize_t n;
    while ((n = bg_files_get_read(g, buf, sizeof(buf), &err)) > 0)
        ;
    assert_err((int)n, err, -ECANCELED, "cancelled");
    bg_files_get_free(g);
    assert_tar_gone("-c");

    /* a put freed before its end kills its tar */
    opts = (struct bg_files_opts){0};
    assert_int_equal(bg_files_put_begin(agent.conn, dst, &opts, &p, &err), 0);
    assert_int_equal(bg_files_put_write(p, buf, 512, &err), 0);
    bg_files_put_free(p);
    assert_tar_gone("-x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_tree), cmocka_unit_test(test_get_tree_and_file),
        cmocka_unit_test(test_refusals), cmocka_unit_test(test_put_stalled),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
