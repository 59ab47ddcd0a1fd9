/* SPDX-License-Identifier: MIT */
/* The executor of the system install's plan: each entry is compared with what is there, and
 * written, removed or reported as already so; commands run only on a live systemd host. */
#include "cmd_sysinstall.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/install.h"
#include "banger/utf8.h"
#include "sysplan.h"

struct ctx {
    const char *root; /* "" for / */
    bool dry_run;
    bool chown_ok; /* running as root: owners can be set */
    unsigned changed;
};

static char *at(const struct ctx *c, const char *path)
{
    return bg_asprintf("%s%s", c->root, path);
}

static bool have(const struct ctx *c, const char *path)
{
    bg_autofree char *p = at(c, path);
    return access(p, F_OK) == 0;
}

static enum bg_sysplan_resolver resolver_detect(const struct ctx *c)
{
    if (have(c, "/run/systemd/resolve") || have(c, "/etc/systemd/resolved.conf"))
        return BG_SYSPLAN_RESOLVER_RESOLVED;
    if (have(c, "/etc/NetworkManager/dnsmasq.d"))
        return BG_SYSPLAN_RESOLVER_NETWORKMANAGER;
    if (have(c, "/etc/dnsmasq.d"))
        return BG_SYSPLAN_RESOLVER_DNSMASQ;
    return BG_SYSPLAN_RESOLVER_NONE;
}

/* The prefix above this banger's bin/ (PREFIX/bin/banger), or --prefix. */
static char *prefix_of(const struct bg_cli_args *a)
{
    char self[PATH_MAX];
    ssize_t n;

    if (a->prefix)
        return bg_strdup(a->prefix);
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return bg_strdup("/usr");
    self[n] = '\0';
    return bg_strdup(dirname(dirname(self)));
}

/* The Firecracker binary install.toml names: the first root-owned one in the usual places. */
static const char *firecracker_find(const struct ctx *c)
{
    static const char *const where[] = {"/usr/bin/firecracker", "/usr/local/bin/firecracker"};
    struct stat st;

    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        bg_autofree char *p = at(c, where[i]);
        if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && !(st.st_mode & 022))
            return where[i];
    }
    return NULL;
}

static int ctx_init(const struct bg_cli_args *a, struct ctx *c, struct bg_error *err)
{
    struct stat st;

    *c = (struct ctx){
        .root = "", .dry_run = (a->given & BG_CLI_FLAG_DRY_RUN) != 0, .chown_ok = geteuid() == 0};
    if (a->root) {
        if (a->root[0] != '/' || stat(a->root, &st) < 0 || !S_ISDIR(st.st_mode))
            return bg_error_set(err, -EINVAL, "--root '%s' is not an absolute path to a directory",
                                BG_QUOTE(a->root));
        c->root = strcmp(a->root, "/") ? a->root : "";
    }
    if (!c->root[0] && !c->dry_run && geteuid() != 0)
        return bg_error_set(err, -EPERM,
                            "'banger %s' changes the host: run it as root (or with --root DIR or "
                            "--dry-run)",
                            a->where);
    return 0;
}

/* mkdir -p for the parents of path (root's, 0755). */
static int parents(const struct ctx *c, const char *path, struct bg_error *err)
{
    bg_autofree char *p = at(c, path);

    for (char *s = p + strlen(c->root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return bg_error_errno(err, "mkdir '%s'", BG_QUOTE(p));
        *s = '/';
    }
    return 0;
}

static bool owner_ok(const struct ctx *c, const struct stat *st, const struct bg_sysplan_entry *e)
{
    return !c->chown_ok || (st->st_uid == e->uid && st->st_gid == e->gid);
}

static int file_same(const char *p, const char *content)
{
    FILE *f = fopen(p, "re");
    size_t n = strlen(content), got;
    bg_autofree char *buf = bg_malloc(n + 2);

    if (!f)
        return 0;
    got = fread(buf, 1, n + 1, f);
    fclose(f);
    return got == n && !memcmp(buf, content, n);
}

static int entry_write(const struct ctx *c, const struct bg_sysplan_entry *e, struct bg_error *err)
{
    bg_autofree char *p = at(c, e->path);
    bg_autofree char *tmp = bg_asprintf("%s.banger-new", p);
    size_t n = strlen(e->content);
    int fd, r;

    if ((r = parents(c, e->path, err)) < 0)
        return r;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bg_error_errno(err, "create '%s'", BG_QUOTE(tmp));
    r = write(fd, e->content, n) == (ssize_t)n ? 0 : -EIO;
    if (r == 0 && fchmod(fd, e->mode) < 0)
        r = -errno;
    if (r == 0 && c->chown_ok && fchown(fd, e->uid, e->gid) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, p) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        return bg_error_set(err, r, "write '%s': %s", BG_QUOTE(p), strerror(-r));
    }
    return 0;
}

static int entry_apply(struct ctx *c, const struct bg_sysplan_entry *e, struct bg_error *err)
{
    bg_autofree char *p = at(c, e->path);
    struct stat st;
    bool exists = lstat(p, &st) == 0;
    bool same = exists && (st.st_mode & 07777) == e->mode && owner_ok(c, &st, e) &&
                (e->kind == BG_SYSPLAN_DIR ? S_ISDIR(st.st_mode)
                                           : S_ISREG(st.st_mode) && file_same(p, e->content));
    int r;

    if (same) {
        printf("  unchanged %s\n", e->path);
        return 0;
    }
    c->changed++;
    printf("  %s %-9s %04o %u:%u %s\n", c->dry_run ? "would" : "wrote",
           e->kind == BG_SYSPLAN_DIR ? "dir" : "file", (unsigned)e->mode, (unsigned)e->uid,
           (unsigned)e->gid, e->path);
    if (c->dry_run) {
        if (e->kind == BG_SYSPLAN_FILE)
            printf("%s", e->content);
        return 0;
    }
    if (e->kind == BG_SYSPLAN_FILE)
        return entry_write(c, e, err);
    if (exists && !S_ISDIR(st.st_mode))
        return bg_error_set(err, -EEXIST, "'%s' exists and is not a directory", BG_QUOTE(p));
    if ((r = parents(c, e->path, err)) < 0)
        return r;
    if (!exists && mkdir(p, e->mode) < 0)
        return bg_error_errno(err, "mkdir '%s'", BG_QUOTE(p));
    if (chmod(p, e->mode) < 0 || (c->chown_ok && chown(p, e->uid, e->gid) < 0))
        return bg_error_errno(err, "set the mode and owner of '%s'", BG_QUOTE(p));
    return 0;
}

/* Why commands cannot run here, or NULL. */
static const char *no_commands(const struct ctx *c)
{
    if (c->root[0])
        return "--root: the tree is not this host";
    if (c->dry_run)
        return "--dry-run";
    if (access("/run/systemd/system", F_OK) < 0)
        return "systemd is not PID 1 here";
    return NULL;
}

static int run_cmds(const struct ctx *c, const struct bg_sysplan_cmd *v, size_t n,
                    struct bg_error *err)
{
    const char *why = no_commands(c);

    for (size_t i = 0; i < n; i++) {
        bg_autofree char *line = bg_strdup(v[i].argv[0]);
        for (size_t k = 1; v[i].argv[k]; k++) {
            char *next = bg_asprintf("%s %s", line, v[i].argv[k]);
            free(line);
            line = next;
        }
        if (why) {
            printf("  not run (%s): %s\n", why, line);
            continue;
        }
        printf("  run %s\n", line);
        fflush(stdout);
        pid_t pid = fork();
        int status;
        if (pid < 0)
            return bg_error_errno(err, "fork");
        if (pid == 0) {
            execvp(v[i].argv[0], v[i].argv);
            _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            return bg_error_set(err, -EIO, "'%s' failed", line);
    }
    return 0;
}

static int plan_for(const struct bg_cli_args *a, const struct ctx *c, struct bg_sysplan *plan,
                    struct bg_error *err)
{
    bg_autofree char *prefix = prefix_of(a);
    struct bg_sysplan_opts o = {
        .prefix = prefix, .resolver = resolver_detect(c), .firecracker = firecracker_find(c)};
    struct passwd *pw;

    if (a->owner) {
        errno = 0;
        if (!(pw = getpwnam(a->owner)))
            return bg_error_set(err, -EINVAL, "--owner '%s': no such user", BG_QUOTE(a->owner));
        o.owner = a->owner;
        o.uid = pw->pw_uid;
        o.gid = pw->pw_gid;
        return bg_sysplan_build(&o, plan, err);
    }
    /* uninstall: the paths do not depend on the owner; take it from install.toml if there */
    bg_autofree char *toml = at(c, BG_INSTALL_FILE);
    struct bg_install in = {0};
    struct bg_error ignored;
    o.owner = "banger";
    o.uid = o.gid = 65534;
    if (bg_install_load(toml, &in, &ignored) == 0) {
        o.uid = in.owner_uid;
        o.gid = in.owner_gid;
    }
    bg_install_done(&in);
    return bg_sysplan_build(&o, plan, err);
}

int bg_cli_system_install(const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_sysplan_done) struct bg_sysplan plan = {0};
    struct ctx c;
    int r;

    if ((r = ctx_init(a, &c, err)) < 0 || (r = plan_for(a, &c, &plan, err)) < 0)
        return r;
    printf("banger system install%s into %s\n", c.dry_run ? " (dry run)" : "",
           c.root[0] ? c.root : "/");
    for (size_t i = 0; i < plan.n_entries; i++)
        if ((r = entry_apply(&c, &plan.entries[i], err)) < 0)
            return r;
    if (!c.chown_ok)
        printf("  owners not set: not running as root\n");
    printf("resolver: %s\n", plan.resolver_note);
    if (!strstr(bg_sysplan_find(&plan, BG_INSTALL_FILE)->content, "firecracker ="))
        printf("firecracker: no root-owned /usr/bin/firecracker or /usr/local/bin/firecracker; "
               "Firecracker VMs are refused until install.toml names one\n");
    if (!c.changed) {
        printf("nothing to change: already installed\n");
        return 0;
    }
    printf("commands:\n");
    if ((r = run_cmds(&c, plan.install_cmds, plan.n_install_cmds, err)) < 0)
        return r;
    printf("%s %u change%s\n", c.dry_run ? "would make" : "made", c.changed,
           c.changed == 1 ? "" : "s");
    return 0;
}

/* rm -rf of a tree of the plan's (no symlink followed). */
static int tree_remove(const char *p)
{
    pid_t pid = fork();
    int status;

    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execl("/bin/rm", "rm", "-rf", "--one-file-system", "--", p, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
        return -EIO;
    return 0;
}

static int entry_remove(struct ctx *c, const struct bg_sysplan_entry *e, bool purge,
                        struct bg_error *err)
{
    bg_autofree char *p = at(c, e->path);
    struct stat st;
    int r = 0;

    if (lstat(p, &st) < 0) {
        printf("  absent %s\n", e->path);
        return 0;
    }
    if (e->keep == BG_SYSPLAN_PURGE && !purge) {
        printf("  kept %s (user data; --purge removes it)\n", e->path);
        return 0;
    }
    if (e->kind == BG_SYSPLAN_DIR && e->keep == BG_SYSPLAN_REMOVE && !c->dry_run && rmdir(p) < 0) {
        printf("  kept %s (not empty: %s)\n", e->path, strerror(errno));
        return 0;
    }
    c->changed++;
    printf("  %s %s\n", c->dry_run ? "would remove" : "removed", e->path);
    if (c->dry_run || (e->kind == BG_SYSPLAN_DIR && e->keep == BG_SYSPLAN_REMOVE))
        return 0;
    r = e->kind == BG_SYSPLAN_FILE ? (unlink(p) < 0 ? -errno : 0) : tree_remove(p);
    return r < 0 ? bg_error_set(err, r, "remove '%s': %s", BG_QUOTE(p), strerror(-r)) : 0;
}

int bg_cli_system_uninstall(const struct bg_cli_args *a, struct bg_error *err)
{
    bg_auto(bg_sysplan_done) struct bg_sysplan plan = {0};
    bool purge = (a->given & BG_CLI_FLAG_PURGE) != 0;
    struct ctx c;
    int r;

    if ((r = ctx_init(a, &c, err)) < 0 || (r = plan_for(a, &c, &plan, err)) < 0)
        return r;
    printf("banger system uninstall%s from %s\n", c.dry_run ? " (dry run)" : "",
           c.root[0] ? c.root : "/");
    if (have(&c, "/etc/systemd/system/bangerd.service")) {
        printf("commands:\n");
        if ((r = run_cmds(&c, plan.uninstall_cmds, plan.n_uninstall_cmds, err)) < 0)
            return r;
    }
    for (size_t i = plan.n_entries; i-- > 0;)
        if ((r = entry_remove(&c, &plan.entries[i], purge, err)) < 0)
            return r;
    if (!c.changed)
        printf("nothing to change: not installed\n");
    else
        printf("%s %u change%s\n", c.dry_run ? "would make" : "made", c.changed,
               c.changed == 1 ? "" : "s");
    return 0;
}
