/* SPDX-License-Identifier: MIT */
/* Unit tests for server/workspace/tar.c and git.c: the archive (listed back and unpacked with
 * GNU tar and busybox tar), openat2 beneath the work tree, the bounded walk, git's clean
 * environment, clones and the sweep of stale ones. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "host/fileio.h"
#include "testutil.h"
#include "workspace/git.h"
#include "workspace/tar.h"
#include "workspace_test.h"

#define CONN_STACK (256 * 1024) /* a bangerd connection thread's stack */
#define INVALID BG_ERR(BG_PROBLEM_INVALID_FIELD)

static char *path_in(const char *name)
{
    return bg_asprintf("%s/%s", bg_test_dir(), name);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

/* An archive being written into a file. */
struct out {
    int fd;
    struct bg_workspace_tar *t;
};

static void out_open(struct out *o, const char *archive)
{
    struct bg_error err;

    o->fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(o->fd >= 0);
    struct bg_workspace_sink sink = {.write = ws_sink_fd, .cls = &o->fd};
    assert_int_equal(bg_workspace_tar_new(&sink, &o->t, &err), 0);
}

static void out_close(struct out *o, bool finish)
{
    struct bg_error err;

    if (finish)
        assert_int_equal(bg_workspace_tar_finish(o->t, &err), 0);
    bg_workspace_tar_free(o->t);
    close(o->fd);
}

/* A tree with a long path (pax), a long symlink target, modes, an empty file, and names that
 * are UTF-8 and that are not. */
static void make_tree(const char *root, char *long_rel, size_t len)
{
    char path[2048];
    snprintf(long_rel, len, "%s/%s/%s", "d234567890123456789012345678901234567890",
             "e234567890123456789012345678901234567890123456789012345678901234567890",
             "f2345678901234567890123456789012345678901234567890123456789012345678901234567890"
             "12345678901234567890123456789012345678901234567890.txt");
    WS_RUN("mkdir -p %s/bin %s/d234567890123456789012345678901234567890/"
           "e234567890123456789012345678901234567890123456789012345678901234567890",
           root, root);
    snprintf(path, sizeof(path), "%s/bin/run", root);
    write_file(path, "#!/bin/sh\necho hi\n", 0755);
    snprintf(path, sizeof(path), "%s/empty", root);
    write_file(path, "", 0600);
    snprintf(path, sizeof(path), "%s/%s", root, long_rel);
    write_file(path, "deep\n", 0644);
    snprintf(path, sizeof(path), "%s/link", root);
    assert_int_equal(symlink(long_rel, path), 0);
    snprintf(path, sizeof(path), "%s/caf\xc3\xa9.txt", root);
    write_file(path, "utf-8 name\n", 0644);
    snprintf(path, sizeof(path), "%s/bad\xff.bin", root);
    write_file(path, "not utf-8\n", 0640);
}

static void test_tar_listing(void **state)
{
    (void)state;
    bg_autofree char *root = path_in("tree");
    bg_autofree char *archive = path_in("out.tar");
    char long_rel[512];
    struct bg_error err;
    struct out o;

    make_tree(root, long_rel, sizeof(long_rel));
    out_open(&o, archive);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *const names[] = {"bin/run", "empty",           long_rel,
                                 "link",    "caf\xc3\xa9.txt", "bad\xff.bin"};
    for (size_t i = 0; i < BG_ARRAY_SIZE(names); i++)
        assert_int_equal(bg_workspace_tar_add(o.t, dirfd, names[i], &err), 1);
    assert_int_equal(bg_workspace_tar_add(o.t, dirfd, "bin", &err), 0); /* a directory */
    assert_err(bg_workspace_tar_add(o.t, dirfd, "nope", &err), err, -ENOENT, "vanished");
    assert_int_equal(bg_workspace_tar_entries(o.t), 6);
    assert_int_equal(bg_workspace_tar_finish(o.t, &err), 0);
    uint64_t bytes = bg_workspace_tar_bytes(o.t);
    out_close(&o, false);
    close(dirfd);

    struct stat st;
    assert_int_equal(stat(archive, &st), 0);
    assert_int_equal((uint64_t)st.st_size, bytes);
    assert_int_equal(bytes % 512, 0);
    char *list = ws_sh("tar -tvf %s", archive);
    assert_non_null(strstr(list, "-rwxr-xr-x root/root"));
    assert_non_null(strstr(list, " bin/run\n"));
    assert_non_null(strstr(list, "-rw------- root/root         0 "));
    assert_non_null(strstr(list, "drwx"));
    assert_non_null(strstr(list, long_rel));
    assert_non_null(strstr(list, "lrwxrwxrwx root/root"));
    assert_non_null(strstr(list, "link -> d2345"));
    free(list);
    /* it unpacks byte for byte, names included (the directory entry is bin/ itself) */
    WS_RUN("mkdir %s/x && tar -xf %s -C %s/x && diff -r --no-dereference %s %s/x", bg_test_dir(),
           archive, bg_test_dir(), root, bg_test_dir());
    if (system("busybox --help >/dev/null 2>&1") == 0) {
        /* the guest's tar is busybox: it must read the pax headers too */
        WS_RUN("mkdir %s/bb && busybox tar -xf %s -C %s/bb && diff -r --no-dereference %s %s/bb",
               bg_test_dir(), archive, bg_test_dir(), root, bg_test_dir());
    }
}

static void test_tar_unfinished(void **state)
{
    (void)state;
    bg_autofree char *root = path_in("unfinished");
    bg_autofree char *file = path_in("unfinished/f");
    bg_autofree char *archive = path_in("unfinished.tar");
    struct bg_error err;
    struct out o;
    struct stat st;

    WS_RUN("mkdir -p %s", root);
    write_file(file, "some content\n", 0644);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    out_open(&o, archive);
    assert_int_equal(bg_workspace_tar_add(o.t, dirfd, "f", &err), 1);
    out_close(&o, false);
    close(dirfd);
    /* what was still buffered, and the end-of-archive, never reach the reader */
    assert_int_equal(stat(archive, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_tar_beneath_symlink(void **state)
{
    (void)state;
    bg_autofree char *root = path_in("swap");
    bg_autofree char *archive = path_in("swap.tar");
    struct bg_error err;
    struct out o;

    WS_RUN("mkdir -p %s/inside %s/sub && echo x > %s/inside/passwd && rmdir %s/sub && "
           "ln -s /etc %s/sub && ln -s inside %s/in",
           root, root, root, root, root, root);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    out_open(&o, archive);
    assert_err(bg_workspace_tar_add(o.t, dirfd, "sub/passwd", &err), err, INVALID,
               "'sub/passwd': a directory on its way is a symlink");
    /* a link that stays inside is not followed either */
    assert_err(bg_workspace_tar_add(o.t, dirfd, "in/passwd", &err), err, INVALID, "symlink");
    assert_err(bg_workspace_tar_add(o.t, dirfd, "../swap/inside/passwd", &err), err, INVALID,
               "symlink");
    /* the link itself is an entry like any */
    assert_int_equal(bg_workspace_tar_add(o.t, dirfd, "sub", &err), 1);
    out_close(&o, true);
    close(dirfd);
    char *list = ws_sh("tar -tvf %s", archive);
    assert_non_null(strstr(list, "sub -> /etc"));
    assert_null(strstr(list, "passwd"));
    free(list);
}

static void test_tracked(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("repo");
    bg_autofree char *sub = path_in("repo/sub");
    bg_autofree char *archive = path_in("repo.tar");
    struct bg_error err;
    char *top = NULL;
    struct out o;

    if (!ws_have_git())
        skip();
    WS_RUN("mkdir -p %s/sub && cd %s && git init -q . && echo a > a && echo b > sub/b && "
           "echo c > gone && ln -s a lnk && git add -A && " WS_GIT_COMMIT " 1 && rm gone && "
           "echo changed > a && echo u > untracked",
           repo, repo);
    assert_int_equal(bg_workspace_toplevel(sub, NULL, &top, &err), 0);
    assert_non_null(strstr(top, "/repo"));
    out_open(&o, archive);
    assert_int_equal(bg_workspace_tar_tracked(o.t, top, NULL, &err), 0);
    assert_int_equal(bg_workspace_tar_entries(o.t), 3); /* a, lnk, sub/b: not gone, untracked */
    out_close(&o, true);
    char *list = ws_sh("tar -tf %s | sort | tr '\\n' ' '", archive);
    assert_string_equal(list, "a lnk sub/b ");
    free(list);
    list = ws_sh("tar -tvf %s", archive);
    assert_non_null(strstr(list, "lnk -> a")); /* a tracked symlink stays a link */
    free(list);
    list = ws_sh("tar -xOf %s a", archive);
    assert_string_equal(list, "changed\n"); /* the work tree's content, not HEAD's */
    free(list);
    free(top);
}

/* A tracked directory replaced by a symlink out of the tree is refused, and nothing of what
 * the link points to is read. */
static void test_tracked_dir_swapped_for_symlink(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("swaprepo");
    bg_autofree char *archive = path_in("swaprepo.tar");
    struct bg_error err;
    struct out o;

    if (!ws_have_git())
        skip();
    WS_RUN("mkdir -p %s/etc && cd %s && git init -q . && echo mine > etc/passwd && "
           "git add -A && " WS_GIT_COMMIT " 1 && rm -r etc && ln -s /etc etc",
           repo, repo);
    out_open(&o, archive);
    assert_err(bg_workspace_tar_tracked(o.t, repo, NULL, &err), err, INVALID,
               "'etc/passwd': a directory on its way is a symlink");
    out_close(&o, false);
    char *out = ws_sh("cat %s", archive);
    assert_null(strstr(out, "root:"));
    free(out);
}

/* Run fn(arg) on a thread with a connection thread's stack, as bangerd would. */
static void on_small_stack(void *(*fn)(void *), void *arg)
{
    pthread_attr_t at;
    pthread_t t;

    pthread_attr_init(&at);
    assert_int_equal(pthread_attr_setstacksize(&at, CONN_STACK), 0);
    assert_int_equal(pthread_create(&t, &at, fn, arg), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&at);
}

/* A chain of depth directories "d" below root, with a file at the bottom. */
static void make_deep(const char *root, int depth)
{
    bg_autofree char *p = bg_strdup(root);

    for (int i = 0; i < depth; i++) {
        char *q = bg_asprintf("%s/d", p);
        free(p);
        p = q;
    }
    WS_RUN("mkdir -p %s && echo bottom > %s/f", p, p);
}

struct tree_job {
    const char *dir, *archive;
    int r;
    struct bg_error err;
};

static void *tree_main(void *arg)
{
    struct tree_job *j = arg;
    struct out o;

    out_open(&o, j->archive);
    j->r = bg_workspace_tar_tree(o.t, j->dir, &j->err);
    out_close(&o, j->r == 0);
    return NULL;
}

static void test_tree_deep(void **state)
{
    (void)state;
    bg_autofree char *deep = path_in("deep");
    bg_autofree char *ok = path_in("ok");
    bg_autofree char *archive = path_in("deep.tar");
    struct tree_job j = {.dir = deep, .archive = archive};

    make_deep(deep, 1000);
    on_small_stack(tree_main, &j);
    assert_err(j.r, j.err, INVALID, "is more than 256 directories deep");
    /* up to the limit the walk goes through, every level and the file in order */
    make_deep(ok, BG_WORKSPACE_DEPTH_MAX);
    j = (struct tree_job){.dir = ok, .archive = archive};
    on_small_stack(tree_main, &j);
    assert_int_equal(j.r, 0);
    char *n = ws_sh("tar -tf %s | wc -l", archive);
    assert_int_equal(atoi(n), BG_WORKSPACE_DEPTH_MAX + 1);
    free(n);
    n = ws_sh("tar -tf %s | tail -n 1 | tr -cd d | wc -c", archive);
    assert_int_equal(atoi(n), BG_WORKSPACE_DEPTH_MAX);
    free(n);
}

static void *remove_main(void *arg)
{
    assert_int_equal(bg_workspace_clone_remove(arg), 0);
    return NULL;
}

/* A clone 1,000 levels deep: refused by the walk, and removed from a connection-sized stack. */
static void test_clone_deep(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("deeprepo");
    bg_autofree char *parent = path_in("deepclones");
    bg_autofree char *archive = path_in("deepclone.tar");
    struct bg_error err;
    char *dir = NULL;

    if (!ws_have_git())
        skip();
    make_deep(repo, 1000);
    WS_RUN("cd %s && git init -q . && git add -A && " WS_GIT_COMMIT " deep", repo);
    assert_int_equal(bg_workspace_clone(repo, NULL, NULL, parent, NULL, &dir, &err), 0);
    struct tree_job j = {.dir = dir, .archive = archive};
    on_small_stack(tree_main, &j);
    assert_err(j.r, j.err, INVALID, "directories deep");
    on_small_stack(remove_main, dir);
    assert_int_equal(access(dir, F_OK), -1);
    free(dir);
}

/* git never runs what the repository's configuration names: an fsmonitor command (which
 * ls-files would run) and a post-checkout hook. */
static void test_git_runs_no_repo_commands(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("hooked");
    bg_autofree char *fs_mark = path_in("fsmonitor-ran");
    bg_autofree char *hook_mark = path_in("hook-ran");
    bg_autofree char *archive = path_in("hooked.tar");
    bg_autofree char *parent = path_in("hookclones");
    struct bg_error err;
    char *dir = NULL;
    struct out o;

    if (!ws_have_git())
        skip();
    WS_RUN("mkdir -p %s && cd %s && git init -q . && echo a > a && git add a && " WS_GIT_COMMIT
           " 1 && git config core.fsmonitor 'touch %s; false' && printf '#!/bin/sh\\ntouch "
           "%s\\n' > .git/hooks/post-checkout && chmod +x .git/hooks/post-checkout",
           repo, repo, fs_mark, hook_mark);
    /* the setup is live: git as a user runs it */
    WS_RUN("git -C %s ls-files >/dev/null 2>&1; test -e %s && rm %s", repo, fs_mark, fs_mark);
    WS_RUN("cd %s && git checkout -q -b side 2>/dev/null; test -e %s && rm %s %s", repo, hook_mark,
           hook_mark, fs_mark);

    out_open(&o, archive);
    assert_int_equal(bg_workspace_tar_tracked(o.t, repo, NULL, &err), 0);
    out_close(&o, true);
    assert_int_equal(bg_workspace_clone(repo, "HEAD", "feature", parent, NULL, &dir, &err), 0);
    assert_int_equal(bg_workspace_clone_remove(dir), 0);
    free(dir);
    assert_int_equal(access(fs_mark, F_OK), -1);
    assert_int_equal(access(hook_mark, F_OK), -1);
}

static void test_toplevel_refusals(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("elsewhere");
    struct bg_error err;
    char *top = NULL;

    if (!ws_have_git())
        skip();
    assert_err(bg_workspace_toplevel(bg_test_dir(), NULL, &top, &err), err, INVALID,
               "is not inside a git work tree");
    /* core.worktree can name any directory: the files must come from the one asked for */
    WS_RUN("mkdir -p %s && git -C %s init -q . && git -C %s config core.worktree /etc", repo, repo,
           repo);
    assert_err(bg_workspace_toplevel(repo, NULL, &top, &err), err, INVALID,
               "is not inside the work tree of its repository ('/etc'");
    assert_null(top);
}

static bool cancel_now(void *cls)
{
    (void)cls;
    return true;
}

static void test_clone_branch(void **state)
{
    (void)state;
    bg_autofree char *repo = path_in("crepo");
    bg_autofree char *parent = path_in("clones");
    struct bg_error err;
    char *dir = NULL;

    if (!ws_have_git())
        skip();
    WS_RUN(
        "mkdir -p %s && cd %s && git init -q -b main . && echo 1 > f && git add f && " WS_GIT_COMMIT
        " one && echo 2 > f && " WS_GIT_COMMIT " two -a",
        repo, repo);
    assert_int_equal(bg_workspace_clone(repo, "HEAD~1", "feature", parent, NULL, &dir, &err), 0);
    assert_non_null(strstr(dir, "/clones/clone-"));
    char *out = ws_sh("git -C %s rev-parse --abbrev-ref HEAD && cat %s/f && git -C %s log "
                      "--oneline | wc -l",
                      dir, dir, dir);
    assert_string_equal(out, "feature\n1\n1\n");
    free(out);
    assert_int_equal(bg_workspace_clone_remove(dir), 0);
    assert_int_equal(access(dir, F_OK), -1);
    free(dir);
    /* the branch may be the clone's own default one */
    assert_int_equal(bg_workspace_clone(repo, "HEAD~1", "main", parent, NULL, &dir, &err), 0);
    out = ws_sh("cat %s/f", dir);
    assert_string_equal(out, "1\n");
    free(out);
    assert_int_equal(bg_workspace_clone_remove(dir), 0);
    free(dir);
    assert_err(bg_workspace_clone(repo, "nosuchref", "x", parent, NULL, &dir, &err), err, INVALID,
               "field 'from': 'nosuchref' is not a commit");
    struct bg_workspace_cancel stop = {.fn = cancel_now};
    assert_err(bg_workspace_clone(repo, NULL, NULL, parent, &stop, &dir, &err), err, -ECANCELED,
               "cancelled");
    /* failed clones leave nothing behind */
    out = ws_sh("ls -A %s | wc -l", parent);
    assert_int_equal(atoi(out), 0);
    free(out);
}

static void test_clones_sweep(void **state)
{
    (void)state;
    bg_autofree char *sd = path_in("state");
    bg_autofree char *stale = path_in("state/tmp/clone-abc123");
    bg_autofree char *other = path_in("state/tmp/keep");
    bg_autofree char *file = path_in("state/tmp/clone-file");

    assert_int_equal(bg_workspace_clones_sweep(sd), 0); /* no tmp yet */
    WS_RUN("mkdir -p %s/.git/objects %s && echo x > %s/.git/objects/o && echo f > %s", stale, other,
           stale, file);
    make_deep(stale, 300);
    assert_int_equal(bg_workspace_clones_sweep(sd), 1);
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(file, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tar_listing),
        cmocka_unit_test(test_tar_unfinished),
        cmocka_unit_test(test_tar_beneath_symlink),
        cmocka_unit_test(test_tracked),
        cmocka_unit_test(test_tracked_dir_swapped_for_symlink),
        cmocka_unit_test(test_tree_deep),
        cmocka_unit_test(test_clone_deep),
        cmocka_unit_test(test_git_runs_no_repo_commands),
        cmocka_unit_test(test_toplevel_refusals),
        cmocka_unit_test(test_clone_branch),
        cmocka_unit_test(test_clones_sweep),
    };
    return cmocka_run_group_tests(tests, bg_test_dir_setup, bg_test_dir_teardown);
}
