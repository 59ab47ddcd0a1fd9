/* SPDX-License-Identifier: MIT */
/* Unit tests for server/workspace/workspace.c: the tar writer (listed back with tar -tvf), the
 * tracked file walk of a real git work tree, clones, and the request decoder's refusals. */
#include <errno.h>
#include <fcntl.h>
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
#include "workspace/workspace.h"

static char tmp[] = "/tmp/banger-ws-test.XXXXXX";

static int sink_fd(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    int fd = *(int *)cls;
    if (write(fd, buf, len) != (ssize_t)len)
        return bg_error_errno(err, "write");
    return 0;
}

/* Run a shell line for test setup and listing (the test's own tooling, not banger's). */
static char *sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = bg_calloc(1, 1 << 20);
    size_t n = fread(out, 1, (1 << 20) - 1, p);
    out[n] = '\0';
    if (pclose(p) != 0)
        fail_msg("'%s' failed: %s", cmd, out);
    return out;
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(tmp))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    (void)bg_rm_tree(tmp, NULL);
    return 0;
}

static bool have_git(void)
{
    return system("git --version >/dev/null 2>&1") == 0;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    chmod(path, mode);
}

/* A tree with a long path (pax), a long symlink target, modes and an empty file. */
static void make_tree(const char *root, char *long_rel, size_t len)
{
    char path[2048];
    snprintf(long_rel, len, "%s/%s/%s", "d234567890123456789012345678901234567890",
             "e234567890123456789012345678901234567890123456789012345678901234567890",
             "f2345678901234567890123456789012345678901234567890123456789012345678901234567890"
             "12345678901234567890123456789012345678901234567890.txt");
    free(sh("mkdir -p %s/%s %s/d234567890123456789012345678901234567890/"
            "e234567890123456789012345678901234567890123456789012345678901234567890",
            root, "bin", root));
    snprintf(path, sizeof(path), "%s/bin/run", root);
    write_file(path, "#!/bin/sh\necho hi\n", 0755);
    snprintf(path, sizeof(path), "%s/empty", root);
    write_file(path, "", 0600);
    snprintf(path, sizeof(path), "%s/%s", root, long_rel);
    write_file(path, "deep\n", 0644);
    snprintf(path, sizeof(path), "%s/link", root);
    assert_int_equal(symlink(long_rel, path), 0);
}

static void test_tar_listing(void **state)
{
    (void)state;
    char root[512], archive[512], long_rel[512];
    struct bg_workspace_tar *t = bg_malloc(sizeof(*t));
    struct bg_error err;

    snprintf(root, sizeof(root), "%s/tree", tmp);
    snprintf(archive, sizeof(archive), "%s/out.tar", tmp);
    make_tree(root, long_rel, sizeof(long_rel));
    int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct bg_workspace_sink sink = {.write = sink_fd, .cls = &fd};
    bg_workspace_tar_init(t, &sink);
    assert_int_equal(bg_workspace_tar_add(t, dirfd, "bin/run", &err), 1);
    assert_int_equal(bg_workspace_tar_add(t, dirfd, "empty", &err), 1);
    assert_int_equal(bg_workspace_tar_add(t, dirfd, long_rel, &err), 1);
    assert_int_equal(bg_workspace_tar_add(t, dirfd, "link", &err), 1);
    assert_int_equal(bg_workspace_tar_add(t, dirfd, "nope", &err), -ENOENT);
    assert_int_equal(bg_workspace_tar_finish(t, &err), 0);
    assert_int_equal(t->entries, 4);
    assert_int_equal(t->bytes % 512, 0);
    close(fd);
    close(dirfd);

    struct stat st;
    assert_int_equal(stat(archive, &st), 0);
    assert_int_equal((uint64_t)st.st_size, t->bytes);
    char *list = sh("tar -tvf %s", archive);
    assert_non_null(strstr(list, "-rwxr-xr-x root/root"));
    assert_non_null(strstr(list, " bin/run\n"));
    assert_non_null(strstr(list, "-rw------- root/root         0 "));
    assert_non_null(strstr(list, long_rel));
    assert_non_null(strstr(list, "link -> d2345"));
    free(list);
    /* and it unpacks byte for byte */
    free(sh("mkdir %s/x && tar -xf %s -C %s/x && diff -r --no-dereference %s %s/x", tmp, archive,
            tmp, root, tmp));
    if (system("busybox --help >/dev/null 2>&1") == 0) {
        /* the guest's tar is busybox: it must read the pax headers too */
        list = sh("busybox tar -tvf %s", archive);
        assert_non_null(strstr(list, long_rel));
        free(list);
    }
    free(t);
}

static void test_tracked(void **state)
{
    (void)state;
    char repo[512], archive[512], path[600];
    struct bg_workspace_tar *t = bg_malloc(sizeof(*t));
    struct bg_error err;
    char *top = NULL;

    if (!have_git())
        skip();
    snprintf(repo, sizeof(repo), "%s/repo", tmp);
    snprintf(archive, sizeof(archive), "%s/repo.tar", tmp);
    free(sh("mkdir -p %s/sub && cd %s && git init -q . && echo a > a && echo b > sub/b && "
            "echo c > gone && ln -s a lnk && git add -A && git -c user.name=t -c "
            "user.email=t@t commit -qm 1 && rm gone && echo changed > a && echo u > untracked",
            repo, repo));
    snprintf(path, sizeof(path), "%s/sub", repo);
    assert_int_equal(bg_workspace_toplevel(path, &top, &err), 0);
    assert_non_null(strstr(top, "/repo"));
    int fd = open(archive, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    struct bg_workspace_sink sink = {.write = sink_fd, .cls = &fd};
    bg_workspace_tar_init(t, &sink);
    assert_int_equal(bg_workspace_tar_tracked(t, top, &err), 0);
    assert_int_equal(bg_workspace_tar_finish(t, &err), 0);
    close(fd);
    assert_int_equal(t->entries, 3); /* a, lnk, sub/b: not gone, not untracked */
    char *list = sh("tar -tf %s | sort | tr '\\n' ' '", archive);
    assert_string_equal(list, "a lnk sub/b ");
    free(list);
    list = sh("tar -xOf %s a", archive);
    assert_string_equal(list, "changed\n"); /* the work tree's content, not HEAD's */
    free(list);
    free(top);
    free(t);
}

static void test_not_a_repo(void **state)
{
    (void)state;
    struct bg_error err;
    char *top = NULL;

    if (!have_git())
        skip();
    assert_int_equal(bg_workspace_toplevel(tmp, &top, &err), -ENOTDIR);
    assert_non_null(strstr(err.msg, "is not inside a git work tree"));
}

static void test_clone_branch(void **state)
{
    (void)state;
    char repo[512], parent[512];
    struct bg_error err;
    char *dir = NULL;

    if (!have_git())
        skip();
    snprintf(repo, sizeof(repo), "%s/crepo", tmp);
    snprintf(parent, sizeof(parent), "%s/clones", tmp);
    free(sh("mkdir -p %s && cd %s && git init -q . && echo 1 > f && git add f && git -c "
            "user.name=t -c user.email=t@t commit -qm one && echo 2 > f && git -c user.name=t "
            "-c user.email=t@t commit -qam two",
            repo, repo));
    assert_int_equal(bg_workspace_clone(repo, "HEAD~1", "feature", parent, &dir, &err), 0);
    char *out = sh("git -C %s rev-parse --abbrev-ref HEAD && cat %s/f && git -C %s log "
                   "--oneline | wc -l",
                   dir, dir, dir);
    assert_string_equal(out, "feature\n1\n1\n");
    free(out);
    (void)bg_rm_tree(dir, NULL);
    assert_int_equal(access(dir, F_OK), -1);
    free(dir);
    assert_int_equal(bg_workspace_clone(repo, "nosuchref", "x", parent, &dir, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "git checkout failed"));
}

struct refusal {
    const char *body;
    const char *field;
    const char *fragment;
};

static const struct refusal refusals[] = {
    {"{}", "path", "required"},
    {"{\"path\":\"rel/dir\"}", "path", "path"},
    {"{\"path\":\"/r\",\"mode\":\"rsync\"}", "mode", "\"copy\""},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"main\"}", "branch", "needed with 'from'"},
    {"{\"path\":\"/r\",\"from\":\"main\",\"branch\":\"x\"}", "from", "only with"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"-x\"}", "branch", "branch name"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"branch\":\"a..b\"}", "branch", "branch name"},
    {"{\"path\":\"/r\",\"mode\":\"clone\",\"from\":\"--upload-pack=x\",\"branch\":\"b\"}", "from",
     "commit or ref"},
    {"{\"path\":\"/r\",\"extra\":1}", "extra", "unknown field"},
};

static void test_request_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        struct bg_workspace_request r;
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        json_t *b = json_loads(refusals[i].body, 0, NULL);
        assert_non_null(b);
        int rc = bg_workspace_request_decode(b, &r, &f, &err);
        json_decref(b);
        if (rc != -EINVAL || strcmp(f.field, refusals[i].field) ||
            !strstr(err.msg, refusals[i].fragment))
            fail_msg("%s: rc %d field '%s' msg '%s'", refusals[i].body, rc, f.field, err.msg);
    }
}

static void test_request_ok(void **state)
{
    (void)state;
    struct bg_workspace_request r;
    struct bg_field_error f;
    struct bg_error err;
    json_t *b = json_loads("{\"path\":\"/src/app\",\"mode\":\"clone\",\"from\":\"v1.2^\","
                           "\"branch\":\"fix/x\"}",
                           0, NULL);

    assert_int_equal(bg_workspace_request_decode(b, &r, &f, &err), 0);
    assert_true(r.clone);
    assert_string_equal(r.path, "/src/app");
    assert_string_equal(r.from, "v1.2^");
    assert_string_equal(r.branch, "fix/x");
    bg_workspace_request_done(&r);
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tar_listing),      cmocka_unit_test(test_tracked),
        cmocka_unit_test(test_not_a_repo),       cmocka_unit_test(test_clone_branch),
        cmocka_unit_test(test_request_refusals), cmocka_unit_test(test_request_ok),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
