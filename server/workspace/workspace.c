/* SPDX-License-Identifier: MIT */
/* Workspace transfer: git work tree -> tar stream (own ustar/pax writer) -> guest tar -x. */
#include "workspace/workspace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"
#include "banger/timefmt.h"
#include "banger/validate.h"
#include "host/fileio.h"
#include "host/run.h"

#define CAPTURE_MAX (256u << 20) /* largest git output read (ls-files of a huge tree) */
#define GIT_ERR_MAX 400

/* ---- request ---- */

/* A ref name as git would take it, restricted to an allow-list so nothing reads as an
 * option: [A-Za-z0-9._/~^@-], not starting with '-', no "..". */
static bool ref_ok(const char *s, bool branch)
{
    size_t n = strlen(s);

    if (n == 0 || n > BG_WORKSPACE_REF_MAX || s[0] == '-' || strstr(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '/' || c == '-' ||
                  (!branch && (c == '~' || c == '^' || c == '@'));
        if (!ok)
            return false;
    }
    return !(branch && (s[n - 1] == '/' || s[n - 1] == '.'));
}

static int get_ref(const json_t *body, const char *key, char **ret, struct bg_field_error *f,
                   struct bg_error *err)
{
    json_t *v = json_object_get(body, key);

    if (!v)
        return 0;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !ref_ok(json_string_value(v), !strcmp(key, "branch"))) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL,
                            "field '%s': must be a git %s name (letters, digits, '.', '_', "
                            "'/', '-'%s; not starting with '-')",
                            key, strcmp(key, "branch") ? "commit or ref" : "branch",
                            strcmp(key, "branch") ? ", '~', '^', '@'" : "");
    }
    *ret = bg_strdup(json_string_value(v));
    return 1;
}

static int decode_mode(const json_t *body, bool *clone, struct bg_field_error *f,
                       struct bg_error *err)
{
    json_t *mode = json_object_get(body, "mode");

    if (!mode)
        return 0;
    if (json_is_string(mode) && !strcmp(json_string_value(mode), "copy"))
        return 0;
    if (json_is_string(mode) && !strcmp(json_string_value(mode), "clone")) {
        *clone = true;
        return 0;
    }
    bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "mode");
    return bg_error_set(err, -EINVAL,
                        "field 'mode': must be \"copy\" (the tracked files as they "
                        "are now) or \"clone\" (a full clone with history)");
}

int bg_workspace_request_decode(const json_t *body, struct bg_workspace_request *ret,
                                struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"path", "mode", "from", "branch", NULL};
    struct bg_workspace_request r = {0};
    int rc;

    if ((rc = bg_json_check_members(body, allowed, f, err)) < 0 ||
        (rc = bg_json_get_path(body, "path", true, &r.path, f, err)) < 0 ||
        (rc = decode_mode(body, &r.clone, f, err)) < 0 ||
        (rc = get_ref(body, "from", &r.from, f, err)) < 0 ||
        (rc = get_ref(body, "branch", &r.branch, f, err)) < 0)
        goto fail;
    if (r.from && !r.branch) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "branch");
        rc = bg_error_set(err, -EINVAL,
                          "field 'branch': needed with 'from' (the new branch "
                          "to create at that commit)");
        goto fail;
    }
    if ((r.from || r.branch) && !r.clone) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, r.from ? "from" : "branch");
        rc = bg_error_set(err, -EINVAL, "field '%s': only with \"mode\": \"clone\"",
                          r.from ? "from" : "branch");
        goto fail;
    }
    *ret = r;
    return 0;
fail:
    bg_workspace_request_done(&r);
    return rc;
}

void bg_workspace_request_done(struct bg_workspace_request *r)
{
    free(r->path);
    free(r->from);
    free(r->branch);
    *r = (struct bg_workspace_request){0};
}

/* ---- running git ---- */

/* Run git (no shell, stdin /dev/null, the clean environment) to its end, stdout kept up to
 * CAPTURE_MAX. A git that ran and failed is not an error here: see ret->status. */
static int run_capture(const char *const argv[], struct bg_run_result *ret, struct bg_error *err)
{
    struct bg_run_opts o = {.argv = argv, .out_fd = -1, .out_max = CAPTURE_MAX};
    int r = bg_run(&o, ret, err);

    if (r == 0 && ret->out_truncated) {
        bg_run_result_done(ret);
        return bg_error_set(err, -EFBIG, "git printed more than %u MiB", CAPTURE_MAX >> 20);
    }
    return r;
}

/* The first line of what a failed git said, for messages. */
static const char *git_says(struct bg_run_result *c)
{
    c->err[strcspn(c->err, "\n")] = '\0';
    return c->err[0] ? c->err : NULL;
}

int bg_workspace_toplevel(const char *path, char **ret, struct bg_error *err)
{
    const char *argv[] = {"git", "-C", path, "rev-parse", "--show-toplevel", NULL};
    struct bg_run_result c;
    int r = run_capture(argv, &c, err);

    if (r < 0)
        return r == -ENOENT ? bg_error_set(err, -ENOENT,
                                           "git is not installed on the host "
                                           "running bangerd")
                            : r;
    if (c.status != 0 || c.out_len < 2) {
        r = bg_error_set(err, -ENOTDIR, "'%s' is not inside a git work tree (%s)", path,
                         git_says(&c) ? c.err : "git rev-parse failed");
        bg_run_result_done(&c);
        return r;
    }
    c.out[strcspn(c.out, "\n")] = '\0';
    *ret = bg_steal_ptr(&c.out);
    return 0;
}

/* ---- tar writer ---- */

#define BLOCK 512
#define NAME_FIELD 100
#define PREFIX_FIELD 155
#define OCTAL_SIZE_MAX 077777777777ULL /* 11 octal digits: 8 GiB - 1 */

void bg_workspace_tar_init(struct bg_workspace_tar *t, const struct bg_workspace_sink *sink)
{
    t->sink = *sink;
    t->bytes = t->entries = 0;
    t->fill = 0;
}

static int tar_flush(struct bg_workspace_tar *t, struct bg_error *err)
{
    if (t->fill == 0)
        return 0;
    int r = t->sink.write(t->sink.cls, t->buf, t->fill, err);
    t->fill = 0;
    return r;
}

static int tar_put(struct bg_workspace_tar *t, const void *data, size_t len, struct bg_error *err)
{
    const uint8_t *p = data;

    while (len > 0) {
        size_t n = sizeof(t->buf) - t->fill < len ? sizeof(t->buf) - t->fill : len;
        if (p)
            memcpy(t->buf + t->fill, p, n);
        else
            memset(t->buf + t->fill, 0, n);
        t->fill += n;
        t->bytes += n;
        len -= n;
        if (p)
            p += n;
        if (t->fill == sizeof(t->buf)) {
            int r = tar_flush(t, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* Zero bytes up to the next block boundary after len bytes of data. */
static int tar_pad(struct bg_workspace_tar *t, uint64_t len, struct bg_error *err)
{
    size_t rest = (size_t)(len % BLOCK);

    return rest ? tar_put(t, NULL, BLOCK - rest, err) : 0;
}

static void octal(char *field, size_t width, uint64_t v)
{
    snprintf(field, width, "%0*llo", (int)width - 1, (unsigned long long)v);
}

/* One header block. name/linkname must fit their fields (the caller split or pax-ed them). */
static int tar_header(struct bg_workspace_tar *t, char type, const char *prefix, const char *name,
                      const char *linkname, unsigned mode, uint64_t size, int64_t mtime,
                      struct bg_error *err)
{
    char h[BLOCK] = {0};
    unsigned sum = 0;

    memcpy(h, name, strnlen(name, NAME_FIELD));
    octal(h + 100, 8, mode & 07777);
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, size > OCTAL_SIZE_MAX ? 0 : size);
    octal(h + 136, 12, mtime > 0 && (uint64_t)mtime <= OCTAL_SIZE_MAX ? (uint64_t)mtime : 0);
    memset(h + 148, ' ', 8);
    h[156] = type;
    if (linkname)
        memcpy(h + 157, linkname, strnlen(linkname, NAME_FIELD));
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    memcpy(h + 265, "root", 4);
    memcpy(h + 297, "root", 4);
    if (prefix)
        memcpy(h + 345, prefix, strnlen(prefix, PREFIX_FIELD));
    for (size_t i = 0; i < BLOCK; i++)
        sum += (unsigned char)h[i];
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
    return tar_put(t, h, BLOCK, err);
}

/* Append the pax record "LEN key=value\n" (LEN counts the whole record) to rec. */
static void pax_record(char **rec, size_t *len, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
    size_t total = body + 1;
    char digits[24];

    while ((size_t)snprintf(digits, sizeof(digits), "%zu", total) + body != total)
        total = (size_t)snprintf(digits, sizeof(digits), "%zu", total) + body;
    *rec = bg_realloc(*rec, *len + total + 1);
    snprintf(*rec + *len, total + 1, "%s %s=%s\n", digits, key, value);
    *len += total;
}

/* Split path into ustar prefix/name when it is too long for name alone. */
static bool ustar_split(const char *path, char *prefix, const char **ret_name)
{
    size_t n = strlen(path);

    *ret_name = path;
    prefix[0] = '\0';
    if (n <= NAME_FIELD)
        return true;
    for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
        size_t plen = (size_t)(s - path);
        if (plen <= PREFIX_FIELD && n - plen - 1 <= NAME_FIELD && n - plen - 1 > 0) {
            memcpy(prefix, path, plen);
            prefix[plen] = '\0';
            *ret_name = s + 1;
            return true;
        }
    }
    return false;
}

/* The header(s) for one entry: a pax 'x' header first when the name, link target or size
 * does not fit ustar. */
static int tar_entry(struct bg_workspace_tar *t, char type, const char *path, const char *link,
                     unsigned mode, uint64_t size, int64_t mtime, struct bg_error *err)
{
    char prefix[PREFIX_FIELD + 1];
    const char *name;
    bg_autofree char *rec = NULL;
    size_t rec_len = 0;
    char num[24];
    int r;

    if (!ustar_split(path, prefix, &name))
        pax_record(&rec, &rec_len, "path", path);
    if (link && strlen(link) > NAME_FIELD)
        pax_record(&rec, &rec_len, "linkpath", link);
    if (size > OCTAL_SIZE_MAX) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
        pax_record(&rec, &rec_len, "size", num);
    }
    if (rec) {
        if ((r = tar_header(t, 'x', NULL, "PaxHeader", NULL, 0644, rec_len, mtime, err)) < 0 ||
            (r = tar_put(t, rec, rec_len, err)) < 0 || (r = tar_pad(t, rec_len, err)) < 0)
            return r;
        prefix[0] = '\0';
        name = path; /* truncated into the field; readers use the pax path */
    }
    return tar_header(t, type, prefix[0] ? prefix : NULL, name, link, mode, size, mtime, err);
}

/* Copy exactly size bytes of fd into the archive; a file that shrank meanwhile is padded
 * with zeros, one that grew is cut, so the header stays true. */
static int tar_content(struct bg_workspace_tar *t, int fd, uint64_t size, const char *path,
                       struct bg_error *err)
{
    uint64_t left = size;
    char chunk[BG_WORKSPACE_TAR_BUF];
    int r;

    while (left > 0) {
        size_t want = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
        ssize_t n = read(fd, chunk, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read %s", path);
        if (n == 0)
            return (r = tar_put(t, NULL, (size_t)left, err)) < 0 ? r : tar_pad(t, size, err);
        if ((r = tar_put(t, chunk, (size_t)n, err)) < 0)
            return r;
        left -= (uint64_t)n;
    }
    return tar_pad(t, size, err);
}

static int tar_add_file(struct bg_workspace_tar *t, int dirfd, const char *relpath,
                        const struct stat *st, struct bg_error *err)
{
    bg_autoclose int fd = openat(dirfd, relpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int r;

    if (fd < 0)
        return bg_error_errno(err, "open %s", relpath);
    r = tar_entry(t, '0', relpath, NULL, st->st_mode, (uint64_t)st->st_size, st->st_mtime, err);
    return r < 0 ? r : tar_content(t, fd, (uint64_t)st->st_size, relpath, err);
}

int bg_workspace_tar_add(struct bg_workspace_tar *t, int dirfd, const char *relpath,
                         struct bg_error *err)
{
    struct stat st;
    char target[BG_PATH_MAX + 1];
    int r;

    if (fstatat(dirfd, relpath, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return bg_error_errno(err, "stat %s", relpath);
    if (S_ISREG(st.st_mode)) {
        r = tar_add_file(t, dirfd, relpath, &st, err);
    } else if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(dirfd, relpath, target, sizeof(target) - 1);
        if (n < 0)
            return bg_error_errno(err, "readlink %s", relpath);
        target[n] = '\0';
        r = tar_entry(t, '2', relpath, target, 0777, 0, st.st_mtime, err);
    } else if (S_ISDIR(st.st_mode)) {
        bg_autofree char *dir = bg_asprintf("%s/", relpath);
        return tar_entry(t, '5', dir, NULL, st.st_mode, 0, st.st_mtime, err);
    } else {
        return 0;
    }
    if (r < 0)
        return r;
    t->entries++;
    return 1;
}

int bg_workspace_tar_finish(struct bg_workspace_tar *t, struct bg_error *err)
{
    int r = tar_put(t, NULL, 2 * BLOCK, err);

    return r < 0 ? r : tar_flush(t, err);
}

/* ---- what goes into the archive ---- */

int bg_workspace_tar_tracked(struct bg_workspace_tar *t, const char *top, struct bg_error *err)
{
    const char *argv[] = {"git", "-C", top, "ls-files", "-z", "--cached", NULL};
    bg_autoclose int dirfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct bg_run_result c;
    size_t count = 0;
    int r;

    if (dirfd < 0)
        return bg_error_errno(err, "open %s", top);
    if ((r = run_capture(argv, &c, err)) < 0)
        return r;
    if (c.status != 0) {
        r = bg_error_set(err, -EIO, "git ls-files in '%s' failed: %s", top,
                         git_says(&c) ? c.err : "no message");
        bg_run_result_done(&c);
        return r;
    }
    /* -z: NUL-separated paths relative to top; a path appears once per stage in a
     * conflicted merge, hence the check against the previous one. */
    const char *prev = "";
    for (size_t off = 0; off < c.out_len && r >= 0; off += strlen(c.out + off) + 1) {
        const char *path = c.out + off;
        if (!*path || !strcmp(path, prev))
            continue;
        prev = path;
        if (++count > BG_WORKSPACE_FILES_MAX)
            r = bg_error_set(err, -EFBIG, "more than %d tracked files", BG_WORKSPACE_FILES_MAX);
        else if ((r = bg_workspace_tar_add(t, dirfd, path, err)) == -ENOENT)
            r = 0;                 /* deleted in the work tree but still tracked: skipped */
        else if (r >= 0 && r != 1) /* a submodule (directory) or special file */
            r = 0;
    }
    bg_run_result_done(&c);
    return r < 0 ? r : 0;
}

/* Depth-first walk of dirfd/rel, adding every entry (directories before their content). */
static int tar_walk(struct bg_workspace_tar *t, int rootfd, const char *rel, struct bg_error *err)
{
    int fd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct dirent *de;
    int r = 0;

    if (fd < 0)
        return bg_error_errno(err, "open %s", rel);
    DIR *dir = fdopendir(fd);
    if (!dir) {
        r = bg_error_errno(err, "opendir %s", rel);
        (void)close(fd);
        return r;
    }
    while (r >= 0 && (de = readdir(dir))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bg_autofree char *path =
            strcmp(rel, ".") ? bg_asprintf("%s/%s", rel, de->d_name) : bg_strdup(de->d_name);
        r = bg_workspace_tar_add(t, rootfd, path, err);
        if (r >= 0 && de->d_type == DT_DIR)
            r = tar_walk(t, rootfd, path, err);
    }
    closedir(dir);
    return r < 0 ? r : 0;
}

int bg_workspace_tar_tree(struct bg_workspace_tar *t, const char *dir, struct bg_error *err)
{
    bg_autoclose int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (rootfd < 0)
        return bg_error_errno(err, "open %s", dir);
    return tar_walk(t, rootfd, ".", err);
}

static int git_run(const char *const argv[], const char *what, int fail_code, struct bg_error *err)
{
    struct bg_run_result c;
    int r = run_capture(argv, &c, err);

    if (r < 0)
        return r;
    if (c.status != 0)
        r = bg_error_set(err, fail_code, "%s failed: %s", what,
                         git_says(&c) ? c.err : "git failed");
    bg_run_result_done(&c);
    return r;
}

int bg_workspace_clone(const char *top, const char *from, const char *branch,
                       const char *tmp_parent, char **ret_dir, struct bg_error *err)
{
    bg_autofree char *dir = bg_asprintf("%s/clone-XXXXXX", tmp_parent);
    int r;

    if (mkdir(tmp_parent, 0700) < 0 && errno != EEXIST)
        return bg_error_errno(err, "mkdir %s", tmp_parent);
    if (!mkdtemp(dir))
        return bg_error_errno(err, "mkdtemp in %s", tmp_parent);
    const char *clone[] = {"git", "clone", "--no-hardlinks", "--quiet", "--", top, dir, NULL};
    r = git_run(clone, "git clone", -EIO, err);
    if (r == 0 && branch) {
        const char *co[] = {"git", "-C", dir, "checkout", "-q", "-b", branch, from ? from : "HEAD",
                            "--",  NULL};
        r = git_run(co, "git checkout", -EINVAL, err);
    }
    if (r < 0) {
        (void)bg_rm_tree(dir, NULL);
        return r;
    }
    *ret_dir = bg_steal_ptr(&dir);
    return 0;
}

/* ---- into the guest ---- */

/* The guest's tar: its output is read on a thread of its own while stdin is written, so
 * a chatty tar can never stall on a full pipe while the host waits for stdin credit. */
struct guest_tar {
    struct bg_agent_session *sess;
    pthread_t drain;
    char msg[GIT_ERR_MAX]; /* start of what tar printed */
    size_t msg_len;
    int read_err; /* negative errno of the drain, 0 */
};

static void *drain_main(void *arg)
{
    struct guest_tar *g = arg;
    char buf[8192];
    struct bg_error err;

    for (;;) {
        int stream = 2;
        ssize_t n = bg_agent_session_read(g->sess, &stream, buf, sizeof(buf), INT64_MAX, &err);
        if (n <= 0) {
            g->read_err = n < 0 ? (int)n : 0;
            return NULL;
        }
        size_t room = sizeof(g->msg) - 1 - g->msg_len;
        size_t k = (size_t)n < room ? (size_t)n : room;
        memcpy(g->msg + g->msg_len, buf, k);
        g->msg_len += k;
        g->msg[g->msg_len] = '\0';
    }
}

static int sink_agent(void *cls, const void *buf, size_t len, struct bg_error *err)
{
    struct guest_tar *g = cls;

    return bg_agent_session_write(g->sess, buf, len, err);
}

/* Run a short guest command without input and wait for its success. */
static int guest_run(struct bg_agent_conn *conn, const char *const *argv, struct bg_error *err)
{
    struct bg_agent_exec_spec spec = {.argv = argv, .cwd = "/"};
    struct bg_agent_session *s = NULL;
    struct guest_tar g = {0};
    int code = -1, sig = 0;
    int r = bg_agent_exec(conn, &spec, &s, err);

    if (r < 0)
        return r;
    g.sess = s;
    drain_main(&g);
    r = bg_agent_session_wait(s, bg_now_ms() + 30000, &code, &sig, err);
    bg_agent_session_free(s);
    if (r < 0)
        return r;
    if (code != 0 || sig)
        return bg_error_set(err, -EIO, "%s in the guest failed (%s%d): %s", argv[0],
                            sig ? "signal " : "exit ", sig ? sig : code, g.msg);
    return 0;
}

/* Write the archive of req (top or clone dir) into the guest tar's stdin. */
static int feed(struct guest_tar *g, const struct bg_workspace_request *req, const char *top,
                const char *clone_dir, struct bg_workspace_result *res, struct bg_error *err)
{
    struct bg_workspace_sink sink = {.write = sink_agent, .cls = g};
    struct bg_workspace_tar *t = bg_malloc(sizeof(*t));
    int r;

    bg_workspace_tar_init(t, &sink);
    r = req->clone ? bg_workspace_tar_tree(t, clone_dir, err)
                   : bg_workspace_tar_tracked(t, top, err);
    if (r >= 0)
        r = bg_workspace_tar_finish(t, err);
    res->files = t->entries;
    res->bytes = t->bytes;
    free(t);
    return r;
}

static int push_archive(struct bg_agent_conn *conn, const struct bg_workspace_request *req,
                        const char *top, const char *clone_dir, struct bg_workspace_result *res,
                        struct bg_error *err)
{
    static const char *const tar_argv[] = {"tar", "-x", "-C", BG_WORKSPACE_GUEST_DIR,
                                           "-f",  "-",  NULL};
    struct bg_agent_exec_spec spec = {.argv = tar_argv, .cwd = "/", .stdin = true};
    struct guest_tar g = {0};
    int code = -1, sig = 0;
    int r = bg_agent_exec(conn, &spec, &g.sess, err);

    if (r < 0)
        return r;
    if (pthread_create(&g.drain, NULL, drain_main, &g) != 0) {
        bg_agent_session_free(g.sess);
        return bg_error_set(err, -EAGAIN, "cannot start a thread");
    }
    r = feed(&g, req, top, clone_dir, res, err);
    if (r >= 0)
        r = bg_agent_session_close_stdin(g.sess, err);
    if (r < 0)
        (void)bg_agent_session_signal(g.sess, 9, NULL);
    pthread_join(g.drain, NULL);
    int w = bg_agent_session_wait(g.sess, bg_now_ms() + 60000, &code, &sig, r < 0 ? NULL : err);
    bg_agent_session_free(g.sess);
    if (r < 0 || w < 0)
        return r < 0 ? r : w;
    if (code != 0 || sig)
        return bg_error_set(err, -EIO, "tar in the guest failed (%s%d): %s",
                            sig ? "signal " : "exit ", sig ? sig : code, g.msg);
    return 0;
}

int bg_workspace_push(struct bg_agent_conn *conn, const struct bg_workspace_request *req,
                      const char *tmp_parent, struct bg_workspace_result *ret, struct bg_error *err)
{
    static const char *const mkdir_argv[] = {"mkdir", "-p", BG_WORKSPACE_GUEST_DIR, NULL};
    struct bg_workspace_result res = {0};
    int64_t t0 = bg_now_ms();
    bg_autofree char *top = NULL;
    bg_autofree char *clone_dir = NULL;
    int r;

    if ((r = bg_workspace_toplevel(req->path, &top, err)) < 0)
        return r;
    if (req->clone &&
        (r = bg_workspace_clone(top, req->from, req->branch, tmp_parent, &clone_dir, err)) < 0)
        return r;
    r = guest_run(conn, mkdir_argv, err);
    if (r >= 0)
        r = push_archive(conn, req, top, clone_dir, &res, err);
    if (clone_dir)
        (void)bg_rm_tree(clone_dir, NULL);
    if (r < 0)
        return r;
    res.ms = bg_now_ms() - t0;
    *ret = res;
    return 0;
}
