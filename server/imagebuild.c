/* SPDX-License-Identifier: MIT */
/* Builds the default image from Debian packages in a background job: apt-get, dpkg-deb, cpio. */
#include "imagebuild.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "cpio.h"
#include "daemon.h"

extern char **environ;

#define PROGRAM_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define OUT_MAX (1u << 20) /* bytes of a program's stdout kept */
#define ERR_KEEP 4096      /* bytes of a program's stderr kept (the tail) */
#define POLL_MS 250        /* how often a running program checks for shutdown */
#define KO_MAX (64u << 20) /* bytes of one kernel module read for its .modinfo */
#define WALK_DEPTH_MAX 12  /* directory levels under lib/modules/VER/kernel */
#define COPY_CHUNK (1u << 20)

const char *const bg_imagebuild_modules[] = {
    "virtio_ring",
    "virtio",
    "virtio_mmio",
    "virtio_blk",
    "virtio_console",
    "virtio_net",
    "vsock",
    "vmw_vsock_virtio_transport_common",
    "vmw_vsock_virtio_transport",
    "overlay",
    NULL,
};

/* Builds share the package cache; one downloads at a time so two never fetch the same file. */
static pthread_mutex_t download_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- pure parsing ---- */

static bool pkg_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '.' ||
           ch == '-';
}

static bool version_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr(".+~:-", ch) != NULL;
}

static bool all_chars(const char *s, size_t n, bool (*ok)(char))
{
    for (size_t i = 0; i < n; i++)
        if (!ok(s[i]))
            return false;
    return n > 0;
}

static bool kernel_pkg(const char *s, size_t n)
{
    static const char pre[] = "linux-image-", suf[] = "-cloud-amd64";
    size_t lp = sizeof(pre) - 1, ls = sizeof(suf) - 1;

    return n > lp + ls && !strncmp(s, pre, lp) && !strncmp(s + n - ls, suf, ls) &&
           !(n == strlen(BG_IMAGEBUILD_META_PACKAGE) && !strncmp(s, BG_IMAGEBUILD_META_PACKAGE, n));
}

/* One alternative, "name (= version)" or "name"; sets *ret_* when it is the kernel package. */
static int depends_alt(const char *alt, char **ret_pkg, char **ret_version, struct bg_error *err)
{
    const char *p = alt + strspn(alt, " \t");
    size_t n = strcspn(p, " \t(");
    const char *rel = strchr(p + n, '(');

    if (!all_chars(p, n, pkg_char))
        return bg_error_set(err, -EINVAL, "Depends names '%.*s', not a package name",
                            (int)(n > 64 ? 64 : n), p);
    if (!kernel_pkg(p, n))
        return 0;
    *ret_pkg = bg_strndup(p, n);
    *ret_version = bg_strdup("");
    if (rel && rel[1] == '=' && rel[2] == ' ') {
        const char *v = rel + 3;
        size_t vn = strcspn(v, ")");
        if (v[vn] != ')' || !all_chars(v, vn, version_char)) {
            free(bg_steal_ptr(ret_pkg));
            free(bg_steal_ptr(ret_version));
            return bg_error_set(err, -EINVAL, "Depends has a malformed version for '%.*s'", (int)n,
                                p);
        }
        free(*ret_version);
        *ret_version = bg_strndup(v, vn);
    }
    return 1;
}

int bg_imagebuild_kernel_depends(const char *depends, char **ret_pkg, char **ret_version,
                                 struct bg_error *err)
{
    bg_autofree char *copy = bg_strdup(depends);
    char *save = NULL;

    for (char *alt = strtok_r(copy, ",|\n", &save); alt; alt = strtok_r(NULL, ",|\n", &save)) {
        if (!alt[strspn(alt, " \t")])
            continue;
        int r = depends_alt(alt, ret_pkg, ret_version, err);
        if (r != 0)
            return r < 0 ? r : 0;
    }
    return bg_error_set(err, -EINVAL,
                        "%s names no linux-image-*-cloud-amd64 package in its "
                        "Depends ('%.128s')",
                        BG_IMAGEBUILD_META_PACKAGE, depends);
}

static bool file_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr(".+~%_:-", ch) != NULL;
}

static int uri_hash(const char *tok, char ret_sha256[BG_SHA256_HEX_LEN + 1], struct bg_error *err)
{
    ret_sha256[0] = '\0';
    if (strncmp(tok, "SHA256:", 7) != 0)
        return 0;
    tok += 7;
    if (strlen(tok) != BG_SHA256_HEX_LEN || strspn(tok, "0123456789abcdef") != BG_SHA256_HEX_LEN)
        return bg_error_set(err, -EINVAL, "apt-get printed a malformed SHA256 '%.80s'", tok);
    memcpy(ret_sha256, tok, BG_SHA256_HEX_LEN + 1);
    return 0;
}

int bg_imagebuild_uri_parse(const char *line, char **ret_file, uint64_t *ret_size,
                            char ret_sha256[BG_SHA256_HEX_LEN + 1], struct bg_error *err)
{
    const char *end = line[0] == '\'' ? strchr(line + 1, '\'') : NULL;
    char *tok[3], *save = NULL;
    uint64_t size;
    int r;

    if (!end || end[1] != ' ')
        return bg_error_set(err, -EINVAL, "apt-get printed '%.80s', not 'URI' FILE SIZE HASH",
                            line);
    bg_autofree char *rest = bg_strdup(end + 2);
    tok[0] = strtok_r(rest, " ", &save);
    tok[1] = tok[0] ? strtok_r(NULL, " ", &save) : NULL;
    tok[2] = tok[1] ? strtok_r(NULL, " \n", &save) : NULL;
    if (!tok[2] || strtok_r(NULL, " \n", &save))
        return bg_error_set(err, -EINVAL, "apt-get printed '%.80s', not 'URI' FILE SIZE HASH",
                            line);
    size_t n = strlen(tok[0]);
    if (tok[0][0] == '.' || n < 5 || strcmp(tok[0] + n - 4, ".deb") != 0 ||
        !all_chars(tok[0], n, file_char))
        return bg_error_set(err, -EINVAL, "apt-get named the file '%.80s', not a .deb name",
                            tok[0]);
    if (bg_parse_u64(tok[1], 1, UINT64_C(1) << 40, &size, err) < 0)
        return bg_error_set(err, -EINVAL, "apt-get printed the size '%.32s' for '%s'", tok[1],
                            tok[0]);
    if ((r = uri_hash(tok[2], ret_sha256, err)) < 0)
        return r;
    *ret_file = bg_strdup(tok[0]);
    *ret_size = size;
    return 0;
}

/* Section header i of elf, or NULL when it lies outside the file. */
static const Elf64_Shdr *section(const unsigned char *elf, size_t len, const Elf64_Ehdr *eh,
                                 unsigned i)
{
    uint64_t off = eh->e_shoff + (uint64_t)i * sizeof(Elf64_Shdr);

    if (i >= eh->e_shnum || off > len || len - off < sizeof(Elf64_Shdr))
        return NULL;
    return (const Elf64_Shdr *)(elf + off);
}

static bool in_file(const Elf64_Shdr *sh, size_t len)
{
    return sh->sh_type != SHT_NOBITS && sh->sh_offset <= len && sh->sh_size <= len - sh->sh_offset;
}

/* The .modinfo section's bytes, or NULL. */
static const char *find_modinfo(const unsigned char *elf, size_t len, size_t *ret_size)
{
    Elf64_Ehdr eh;

    if (len < sizeof(eh))
        return NULL;
    memcpy(&eh, elf, sizeof(eh));
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        eh.e_shoff % 8 != 0)
        return NULL;
    const Elf64_Shdr *strtab = section(elf, len, &eh, eh.e_shstrndx);
    if (!strtab || !in_file(strtab, len))
        return NULL;
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        const Elf64_Shdr *sh = section(elf, len, &eh, i);
        if (!sh || sh->sh_name >= strtab->sh_size || !in_file(sh, len))
            continue;
        const char *name = (const char *)elf + strtab->sh_offset + sh->sh_name;
        size_t room = strtab->sh_size - sh->sh_name;
        if (strnlen(name, room) < room && !strcmp(name, ".modinfo")) {
            *ret_size = sh->sh_size;
            return (const char *)elf + sh->sh_offset;
        }
    }
    return NULL;
}

int bg_imagebuild_modinfo_depends(const void *elf, size_t len, char **ret, struct bg_error *err)
{
    size_t size = 0;
    const char *info = find_modinfo(elf, len, &size);

    if (!info)
        return bg_error_set(err, -ENOEXEC,
                            "not a 64-bit little-endian ELF kernel module with a "
                            ".modinfo section");
    /* NUL-separated "key=value" strings, possibly with padding NULs between them. */
    for (size_t off = 0; off < size;) {
        const char *s = info + off;
        size_t n = strnlen(s, size - off);
        if (n > 8 && !strncmp(s, "depends=", 8)) {
            *ret = bg_strndup(s + 8, n - 8);
            return 0;
        }
        off += n + 1;
    }
    *ret = bg_strdup("");
    return 0;
}

char *bg_imagebuild_module_name(const char *path, char *buf, size_t len)
{
    const char *base = strrchr(path, '/');
    const char *ko;

    base = base ? base + 1 : path;
    ko = strstr(base, ".ko");
    snprintf(buf, len, "%.*s", (int)(ko ? ko - base : (ptrdiff_t)strlen(base)), base);
    for (char *p = buf; *p; p++)
        if (*p == '-')
            *p = '_';
    return buf;
}

/* ---- module dependency order ---- */

struct moddep {
    char *path;    /* borrowed from the parsed copy */
    char *deps;    /* space-separated paths, borrowed */
    char name[64]; /* normalised */
    int mark;      /* 0 unseen, 1 on the current path, 2 placed */
};

struct modorder {
    struct moddep *mods;
    size_t n;
    char **out; /* NULL-terminated */
    size_t out_n;
};

static void modorder_done(struct modorder *o)
{
    free(o->mods);
    for (size_t i = 0; o->out && i < o->out_n; i++)
        free(o->out[i]);
    free(o->out);
}

/* Split text (modified in place) into entries. */
static int moddep_parse(char *text, struct modorder *o, struct bg_error *err)
{
    size_t cap = 0, line_no = 0;
    char *save = NULL;

    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        char *colon = strchr(line, ':');
        if (!line[strspn(line, " \t\r")])
            continue;
        if (!colon || colon == line || memchr(line, ' ', (size_t)(colon - line)))
            return bg_error_set(err, -EINVAL, "modules.dep line %zu is not 'PATH: DEPS'", line_no);
        if (o->n == cap) {
            cap = cap ? cap * 2 : 256;
            o->mods = bg_realloc(o->mods, cap * sizeof(*o->mods));
        }
        *colon = '\0';
        struct moddep *m = &o->mods[o->n++];
        m->path = line;
        m->deps = colon + 1;
        m->mark = 0;
        bg_imagebuild_module_name(line, m->name, sizeof(m->name));
    }
    return 0;
}

static struct moddep *by_path(struct modorder *o, const char *path)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->mods[i].path, path))
            return &o->mods[i];
    return NULL;
}

static struct moddep *by_name(struct modorder *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (!strcmp(o->mods[i].name, name))
            return &o->mods[i];
    return NULL;
}

/* Depth-first: every dependency placed before m. */
static int place(struct modorder *o, struct moddep *m, unsigned depth, struct bg_error *err)
{
    char *save = NULL;

    if (m->mark == 2)
        return 0;
    if (m->mark == 1)
        return bg_error_set(err, -ELOOP, "modules.dep has a dependency cycle through '%s'",
                            m->name);
    if (depth > BG_IMAGEBUILD_MODULES_MAX)
        return bg_error_set(err, -E2BIG, "dependencies of '%s' nest deeper than %d", m->name,
                            BG_IMAGEBUILD_MODULES_MAX);
    m->mark = 1;
    for (char *d = strtok_r(m->deps, " \t\r", &save); d; d = strtok_r(NULL, " \t\r", &save)) {
        struct moddep *dep = by_path(o, d);
        if (!dep)
            return bg_error_set(err, -ENOENT,
                                "module '%s' needs '%s', which modules.dep does "
                                "not list",
                                m->name, d);
        int r = place(o, dep, depth + 1, err);
        if (r < 0)
            return r;
    }
    m->mark = 2;
    if (o->out_n == BG_IMAGEBUILD_MODULES_MAX)
        return bg_error_set(err, -E2BIG, "more than %d modules needed", BG_IMAGEBUILD_MODULES_MAX);
    o->out[o->out_n++] = bg_strdup(m->path);
    return 0;
}

static bool is_builtin(const char *builtin, const char *name)
{
    char buf[64];
    const char *p = builtin;

    while (p && *p) {
        size_t n = strcspn(p, "\n");
        bg_autofree char *line = bg_strndup(p, n);
        if (!strcmp(bg_imagebuild_module_name(line, buf, sizeof(buf)), name))
            return true;
        p += n + (p[n] == '\n');
    }
    return false;
}

int bg_imagebuild_modules_order(const char *modules_dep, const char *builtin,
                                const char *const *wanted, char ***ret_paths, size_t *ret_n,
                                struct bg_error *err)
{
    bg_autofree char *text = bg_strdup(modules_dep);
    struct modorder o = {.out = bg_calloc(BG_IMAGEBUILD_MODULES_MAX + 1, sizeof(char *))};
    int r = moddep_parse(text, &o, err);

    for (const char *const *w = wanted; r >= 0 && *w; w++) {
        char name[64];
        bg_imagebuild_module_name(*w, name, sizeof(name));
        struct moddep *m = by_name(&o, name);
        if (m)
            r = place(&o, m, 0, err);
        else if (!is_builtin(builtin, name))
            r = bg_error_set(err, -ENOENT,
                             "kernel module '%s' is in neither modules.dep nor "
                             "modules.builtin",
                             name);
    }
    if (r < 0) {
        modorder_done(&o);
        return r;
    }
    *ret_paths = bg_steal_ptr(&o.out);
    *ret_n = o.out_n;
    o.out_n = 0;
    modorder_done(&o);
    return 0;
}

/* ---- running programs ---- */

struct build {
    struct bg_daemon *d;
    struct bg_image img;
    struct bg_operation op;
    char *debs;                                   /* <cache_dir>/debs */
    char *tmp;                                    /* <cache_dir>/build-XXXXXX while it exists */
    char *root;                                   /* <tmp>/root: the unpacked packages */
    char *imgdir;                                 /* <state_dir>/images/<name> */
    char *kver;                                   /* kernel release, "6.1.0-56-cloud-amd64" */
    char *debs_kernel, *debs_busybox, *debs_meta; /* .deb paths */
    unsigned downloaded;                          /* packages fetched (not found in the cache) */
};

/* What a program printed and how it ended. */
struct run {
    char *out; /* stdout (NUL-terminated, at most OUT_MAX), owned */
    size_t out_len;
    char err[ERR_KEEP + 1]; /* the tail of stderr, NUL-terminated */
    size_t err_len;
    int status; /* as from waitpid */
};

static void run_done(struct run *r)
{
    free(r->out);
    r->out = NULL;
}

static char *find_program(const char *name)
{
    if (strchr(name, '/'))
        return bg_strdup(name);
    bg_autofree char *dirs = bg_strdup(PROGRAM_PATH);
    char *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *p = bg_asprintf("%s/%s", dir, name);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

/* A clean environment: a fixed PATH, the C locale, and the proxy settings apt honours. */
static char **clean_env(void)
{
    static const char *const pass[] = {"http_proxy", "https_proxy", "no_proxy", NULL};
    char **env = bg_calloc(BG_ARRAY_SIZE(pass) + 3, sizeof(char *));
    size_t n = 0;

    env[n++] = bg_strdup("PATH=" PROGRAM_PATH);
    env[n++] = bg_strdup("LC_ALL=C");
    for (const char *const *p = pass; *p; p++) {
        const char *v = getenv(*p);
        if (v && *v)
            env[n++] = bg_asprintf("%s=%s", *p, v);
    }
    return env;
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void keep_err(struct run *r, const char *buf, size_t n)
{
    if (n >= ERR_KEEP) {
        memcpy(r->err, buf + n - ERR_KEEP, ERR_KEEP);
        r->err_len = ERR_KEEP;
    } else {
        size_t drop = r->err_len + n > ERR_KEEP ? r->err_len + n - ERR_KEEP : 0;
        memmove(r->err, r->err + drop, r->err_len - drop);
        memcpy(r->err + r->err_len - drop, buf, n);
        r->err_len += n - drop;
    }
    r->err[r->err_len] = '\0';
}

static void keep_out(struct run *r, const char *buf, size_t n)
{
    if (r->out_len + n > OUT_MAX)
        n = OUT_MAX - r->out_len;
    r->out = bg_realloc(r->out, r->out_len + n + 1);
    memcpy(r->out + r->out_len, buf, n);
    r->out_len += n;
    r->out[r->out_len] = '\0';
}

/* Read both pipes until they close; on shutdown, terminate the program's process group. */
static void collect(struct build *b, pid_t pid, int out_fd, int err_fd, struct run *r)
{
    struct pollfd p[2] = {{.fd = err_fd, .events = POLLIN}, {.fd = out_fd, .events = POLLIN}};
    bool killed = false;
    char buf[4096];

    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (!killed && bg_jobs_cancelled(b->d->jobs)) {
            (void)kill(-pid, SIGTERM);
            killed = true;
        }
        if (poll(p, 2, POLL_MS) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                p[i].fd = -1;
                continue;
            }
            if (i == 0)
                keep_err(r, buf, (size_t)n);
            else
                keep_out(r, buf, (size_t)n);
        }
    }
}

static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, const char *cwd,
                       int out_fd, int err_fd)
{
    sigset_t none, dfl;
    int r;

    sigemptyset(&none);
    sigemptyset(&dfl);
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaddset(&dfl, s);
    if ((r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (r = posix_spawn_file_actions_adddup2(fa, out_fd, 1)) ||
        (r = posix_spawn_file_actions_adddup2(fa, err_fd, 2)) ||
        (cwd && (r = posix_spawn_file_actions_addchdir_np(fa, cwd))) ||
        (r = posix_spawn_file_actions_addclosefrom_np(fa, 3)))
        return -r;
    /* bangerd blocks SIGTERM/SIGINT in every thread; the program must not inherit that. Its
     * own process group lets a shutdown stop it with everything it started. */
    if ((r = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                              POSIX_SPAWN_SETPGROUP)) ||
        (r = posix_spawnattr_setsigmask(at, &none)) ||
        (r = posix_spawnattr_setsigdefault(at, &dfl)) || (r = posix_spawnattr_setpgroup(at, 0)))
        return -r;
    return 0;
}

static int spawn(const char *const argv[], const char *cwd, int out_fd, int err_fd, pid_t *ret_pid,
                 struct bg_error *err)
{
    bg_autofree char *prog = find_program(argv[0]);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    char **env;
    int r;

    if (!prog)
        return bg_error_set(err, -ENOENT, "'%s' is not installed (looked in %s)", argv[0],
                            PROGRAM_PATH);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    env = clean_env();
    r = spawn_setup(&fa, &at, cwd, out_fd, err_fd);
    if (r == 0)
        r = -posix_spawn(ret_pid, prog, &fa, &at, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    strv_free(env);
    return r < 0 ? bg_error_set(err, r, "run %s: %s", argv[0], strerror(-r)) : 0;
}

/* Run argv (no shell) in cwd (NULL: bangerd's) with stdout to out_fd, or captured into
 * ret->out when out_fd < 0. Returns 0 once the program ended (whatever its status). */
static int run_program(struct build *b, const char *const argv[], const char *cwd, int out_fd,
                       struct run *ret, struct bg_error *err)
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    pid_t pid;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (pipe2(err_pipe, O_CLOEXEC) < 0 || (out_fd < 0 && pipe2(out_pipe, O_CLOEXEC) < 0)) {
        r = bg_error_errno(err, "pipe");
        goto out;
    }
    r = spawn(argv, cwd, out_fd >= 0 ? out_fd : out_pipe[1], err_pipe[1], &pid, err);
    if (r < 0)
        goto out;
    (void)close(err_pipe[1]);
    err_pipe[1] = -1;
    if (out_pipe[1] >= 0)
        (void)close(out_pipe[1]);
    out_pipe[1] = -1;
    collect(b, pid, out_pipe[0], err_pipe[0], ret);
    while (waitpid(pid, &ret->status, 0) < 0)
        if (errno != EINTR) {
            r = bg_error_errno(err, "wait for %s", argv[0]);
            break;
        }
    if (!ret->out)
        keep_out(ret, "", 0);
out:
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            (void)close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            (void)close(err_pipe[i]);
    }
    return r;
}

/* The lines of stderr that say what went wrong: apt's "E:" lines, else the last line. */
static char *err_summary(const char *text)
{
    char *sum = bg_strdup("");
    const char *last = NULL, *p = text;
    size_t last_n = 0;

    while (*p) {
        size_t n = strcspn(p, "\n");
        if (n >= 3 && !strncmp(p, "E: ", 3)) {
            char *next = bg_asprintf("%s%s%.*s", sum, *sum ? "; " : "", (int)n, p);
            free(sum);
            sum = next;
        }
        if (n > 0) {
            last = p;
            last_n = n;
        }
        p += n + (p[n] == '\n');
    }
    if (!*sum && last) {
        free(sum);
        sum = bg_strndup(last, last_n);
    }
    return sum;
}

/* Run argv and require exit status 0; otherwise the error names the program and its stderr. */
static int run_ok(struct build *b, const char *const argv[], const char *cwd, int out_fd,
                  struct run *ret, const char *hint, struct bg_error *err)
{
    int r = run_program(b, argv, cwd, out_fd, ret, err);

    if (r < 0)
        return r;
    if (bg_jobs_cancelled(b->d->jobs)) {
        run_done(ret);
        return bg_error_set(err, -ECANCELED, "bangerd shut down during the build");
    }
    if (WIFEXITED(ret->status) && WEXITSTATUS(ret->status) == 0)
        return 0;
    bg_autofree char *why = err_summary(ret->err);
    int code = WIFEXITED(ret->status) ? WEXITSTATUS(ret->status) : 128 + WTERMSIG(ret->status);
    run_done(ret);
    return bg_error_set(err, -EIO, "%s %s failed (exit %d): %s%s%s", argv[0],
                        argv[1] && argv[1][0] != '-' ? argv[1]
                        : argv[2]                    ? argv[2]
                                                     : "",
                        code, *why ? why : "no message", hint ? "; " : "", hint ? hint : "");
}

/* ---- files ---- */

static int sha256_file(const char *path, char hex[BG_SHA256_HEX_LEN + 1], uint64_t *ret_size,
                       struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    bg_autofree unsigned char *buf = bg_malloc(COPY_CHUNK);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_state st;
    uint64_t size = 0;

    if (fd < 0)
        return bg_error_errno(err, "open '%s'", path);
    crypto_hash_sha256_init(&st);
    for (;;) {
        ssize_t n = read(fd, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", path);
        if (n == 0)
            break;
        crypto_hash_sha256_update(&st, buf, (size_t)n);
        size += (uint64_t)n;
    }
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(hex, BG_SHA256_HEX_LEN + 1, digest, sizeof(digest));
    *ret_size = size;
    return 0;
}

/* The whole file (at most max bytes) with a NUL appended; *ret_len excludes the NUL. */
static int read_file(const char *path, size_t max, char **ret, size_t *ret_len,
                     struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;

    if (fd < 0)
        return bg_error_errno(err, "open '%s'", path);
    if (fstat(fd, &st) < 0)
        return bg_error_errno(err, "stat '%s'", path);
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
        return bg_error_set(err, -EFBIG, "'%s' is not a regular file of at most %zu bytes", path,
                            max);
    bg_autofree char *buf = bg_malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? bg_error_errno(err, "read '%s'", path)
                         : bg_error_set(err, -EIO, "'%s' shrank while read", path);
        got += (size_t)n;
    }
    buf[got] = '\0';
    *ret = bg_steal_ptr(&buf);
    *ret_len = got;
    return 0;
}

static int read_text(const char *path, char **ret, struct bg_error *err)
{
    size_t len;
    int r = read_file(path, BG_IMAGEBUILD_TEXT_MAX, ret, &len, err);

    if (r >= 0 && strlen(*ret) != len) {
        free(bg_steal_ptr(ret));
        return bg_error_set(err, -EINVAL, "'%s' holds a NUL byte", path);
    }
    return r;
}

/* Copy src to dst (created 0644, replaced) and fsync it. */
static int copy_file(const char *src, const char *dst, struct bg_error *err)
{
    bg_autoclose int in = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    bg_autoclose int out = -1;
    bg_autofree char *buf = bg_malloc(COPY_CHUNK);

    if (in < 0)
        return bg_error_errno(err, "open '%s'", src);
    out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (out < 0)
        return bg_error_errno(err, "create '%s'", dst);
    for (;;) {
        ssize_t n = read(in, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bg_error_errno(err, "read '%s'", src);
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno != EINTR)
                return bg_error_errno(err, "write '%s'", dst);
            off += w > 0 ? w : 0;
        }
    }
    if (fsync(out) < 0)
        return bg_error_errno(err, "fsync '%s'", dst);
    return 0;
}

static int mkdir_p(const char *path, mode_t mode, struct bg_error *err)
{
    bg_autofree char *p = bg_strdup(path);

    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return bg_error_errno(err, "create directory '%s'", p);
        *s = c;
        if (!c)
            return 0;
    }
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        (void)rmdir(path);
    else
        (void)unlink(path);
    return 0;
}

/* Remove a directory tree; entries that cannot be removed are left (logged by the caller). */
static void rm_tree(const char *path)
{
    (void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- progress ---- */

static void report(struct build *b)
{
    struct bg_error err;

    b->op.updated_at = time(NULL);
    if (bg_store_op_update(b->d->store, &b->op, NULL, &err) < 0)
        bg_log_warn("update operation '%s': %s", b->op.id, err.msg);
}

/* Begin step "what": the steps before it are done. */
static void step(struct build *b, unsigned done, const char *fmt, ...) BG_PRINTF(3, 4);
static void step(struct build *b, unsigned done, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->op.step, sizeof(b->op.step), fmt, ap);
    va_end(ap);
    b->op.done = done;
    bg_log_debug("build image '%s': %s", b->img.name, b->op.step);
    report(b);
}

/* ---- packages ---- */

static int print_uris(struct build *b, const char *spec, char **ret_file, uint64_t *ret_size,
                      char sha[BG_SHA256_HEX_LEN + 1], struct bg_error *err)
{
    static const char hint[] = "run 'apt-get update' as root and check that the package mirror "
                               "is reachable";
    const char *argv[] = {"apt-get", "-q", "download", "--print-uris", spec, NULL};
    struct run run;
    /* In the (empty) scratch directory: where the file already is, apt prints nothing. */
    int r = run_ok(b, argv, b->tmp, -1, &run, hint, err);

    if (r < 0)
        return r;
    char *line = strchr(run.out, '\'');
    if (!line) {
        run_done(&run);
        return bg_error_set(err, -EIO, "apt-get download --print-uris %s printed no URI; %s", spec,
                            hint);
    }
    line[strcspn(line, "\n")] = '\0';
    r = bg_imagebuild_uri_parse(line, ret_file, ret_size, sha, err);
    run_done(&run);
    return r;
}

/* The file exists in the cache with the size and hash apt expects. */
static bool cached(const char *path, uint64_t size, const char *sha)
{
    char got[BG_SHA256_HEX_LEN + 1];
    uint64_t got_size;
    struct bg_error e;
    struct stat st;

    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
        return false;
    if (!*sha)
        return true;
    return sha256_file(path, got, &got_size, &e) == 0 && got_size == size && !strcmp(got, sha);
}

/* Make sure the .deb of spec ("pkg" or "pkg=version") is in the cache; *ret_path is its path. */
static int fetch_deb(struct build *b, const char *spec, char **ret_path, struct bg_error *err)
{
    static const char hint[] = "run 'apt-get update' as root and check that the package mirror "
                               "is reachable";
    char sha[BG_SHA256_HEX_LEN + 1];
    bg_autofree char *file = NULL;
    uint64_t size;
    struct run run;
    int r;

    if ((r = print_uris(b, spec, &file, &size, sha, err)) < 0)
        return r;
    bg_autofree char *path = bg_asprintf("%s/%s", b->debs, file);
    if (!cached(path, size, sha)) {
        const char *argv[] = {"apt-get", "-q", "download", spec, NULL};
        (void)unlink(path);
        if ((r = run_ok(b, argv, b->debs, -1, &run, hint, err)) < 0)
            return r;
        run_done(&run);
        if (!cached(path, size, sha))
            return bg_error_set(err, -EIO,
                                "apt-get download %s did not leave '%s' with %llu "
                                "bytes and the expected sha256",
                                spec, path, (unsigned long long)size);
        b->downloaded++;
        bg_log_info("build image '%s': downloaded %s", b->img.name, file);
    }
    *ret_path = bg_steal_ptr(&path);
    return 0;
}

static int kernel_spec(struct build *b, char **ret_pkg, char **ret_spec, struct bg_error *err)
{
    const char *argv[] = {"dpkg-deb", "-f", b->debs_meta, "Depends", NULL};
    bg_autofree char *version = NULL;
    struct run run;
    int r = run_ok(b, argv, NULL, -1, &run, NULL, err);

    if (r < 0)
        return r;
    r = bg_imagebuild_kernel_depends(run.out, ret_pkg, &version, err);
    run_done(&run);
    if (r < 0)
        return r;
    *ret_spec = *version ? bg_asprintf("%s=%s", *ret_pkg, version) : bg_strdup(*ret_pkg);
    return 0;
}

static int download_all(struct build *b, struct bg_error *err)
{
    bg_autofree char *pkg = NULL, *spec = NULL;
    int r;

    step(b, 0, "download %s", BG_IMAGEBUILD_META_PACKAGE);
    if ((r = fetch_deb(b, BG_IMAGEBUILD_META_PACKAGE, &b->debs_meta, err)) < 0 ||
        (r = kernel_spec(b, &pkg, &spec, err)) < 0)
        return r;
    step(b, 1, "download %s", pkg);
    if ((r = fetch_deb(b, spec, &b->debs_kernel, err)) < 0)
        return r;
    step(b, 2, "download %s", BG_IMAGEBUILD_BUSYBOX_PACKAGE);
    return fetch_deb(b, BG_IMAGEBUILD_BUSYBOX_PACKAGE, &b->debs_busybox, err);
}

/* ---- unpack ---- */

/* <cache_dir>/build-XXXXXX, removed when the build ends however it ends. */
static int make_tmp(struct build *b, struct bg_error *err)
{
    bg_autofree char *tmpl = bg_asprintf("%s/build-XXXXXX", b->d->cfg->cache_dir);

    if (!mkdtemp(tmpl))
        return bg_error_errno(err, "create a directory in '%s'", b->d->cfg->cache_dir);
    b->tmp = bg_steal_ptr(&tmpl);
    b->root = bg_asprintf("%s/root", b->tmp);
    return 0;
}

static int unpack(struct build *b, struct bg_error *err)
{
    const char *debs[] = {b->debs_kernel, b->debs_busybox};
    struct run run;
    int r;

    for (size_t i = 0; i < BG_ARRAY_SIZE(debs); i++) {
        const char *argv[] = {"dpkg-deb", "-x", debs[i], b->root, NULL};
        if ((r = run_ok(b, argv, NULL, -1, &run, NULL, err)) < 0)
            return r;
        run_done(&run);
    }
    return 0;
}

static bool kver_ok(const char *v)
{
    return *v && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_-") ==
                     strlen(v);
}

/* The one boot/vmlinuz-VERSION of the kernel package. */
static int find_kernel(struct build *b, struct bg_error *err)
{
    bg_autofree char *boot = bg_asprintf("%s/boot", b->root);
    DIR *dir = opendir(boot);
    struct dirent *de;
    int r = 0;

    if (!dir)
        return bg_error_errno(err, "the kernel package has no /boot ('%s')", boot);
    while ((de = readdir(dir)) && r >= 0) {
        if (strncmp(de->d_name, "vmlinuz-", 8) != 0)
            continue;
        if (b->kver || !kver_ok(de->d_name + 8))
            r = bg_error_set(err, -EINVAL, "the kernel package holds an unexpected '/boot/%s'",
                             de->d_name);
        else
            b->kver = bg_strdup(de->d_name + 8);
    }
    closedir(dir);
    if (r >= 0 && !b->kver)
        r = bg_error_set(err, -ENOENT, "the kernel package has no /boot/vmlinuz-*");
    return r;
}

/* ---- kernel modules ---- */

struct kmod {
    char name[64]; /* normalised */
    char *rel;     /* path under lib/modules/VERSION, owned */
};

struct kmods {
    struct kmod *v;
    size_t n, cap;
};

static void kmods_done(struct kmods *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i].rel);
    free(k->v);
}

static bool ko_name(const char *name)
{
    static const char *const suffixes[] = {".ko", ".ko.xz", ".ko.zst", ".ko.gz"};
    size_t n = strlen(name);

    for (size_t i = 0; i < BG_ARRAY_SIZE(suffixes); i++) {
        size_t sn = strlen(suffixes[i]);
        if (n > sn && !strcmp(name + n - sn, suffixes[i]))
            return true;
    }
    return false;
}

/* Every module file under moddir/rel, recursively. */
static int walk(const char *moddir, const char *rel, unsigned depth, struct kmods *k,
                struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/%s", moddir, rel);
    DIR *dir = opendir(path);
    struct dirent *de;
    struct stat st;
    int r = 0;

    if (!dir)
        return bg_error_errno(err, "open '%s'", path);
    while (r >= 0 && (de = readdir(dir))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        bg_autofree char *sub = bg_asprintf("%s/%s", rel, de->d_name);
        if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH_MAX) {
            r = walk(moddir, sub, depth + 1, k, err);
        } else if (S_ISREG(st.st_mode) && ko_name(de->d_name)) {
            if (k->n == k->cap) {
                k->cap = k->cap ? k->cap * 2 : 512;
                k->v = bg_realloc(k->v, k->cap * sizeof(*k->v));
            }
            bg_imagebuild_module_name(sub, k->v[k->n].name, sizeof(k->v[k->n].name));
            k->v[k->n++].rel = bg_steal_ptr(&sub);
        }
    }
    closedir(dir);
    return r;
}

static const struct kmod *kmod_find(const struct kmods *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (!strcmp(k->v[i].name, name))
            return &k->v[i];
    return NULL;
}

/* moddir/rel as a plain .ko file: itself, or decompressed into <tmp>/ko/NAME.ko. */
static int plain_module(struct build *b, const char *moddir, const char *rel, char **ret,
                        struct bg_error *err)
{
    static const char *const tools[][2] = {{".xz", "xz"}, {".zst", "zstd"}, {".gz", "gzip"}};
    size_t n = strlen(rel);
    char name[64];

    for (size_t i = 0; i < BG_ARRAY_SIZE(tools); i++) {
        size_t sn = strlen(tools[i][0]);
        if (n <= sn || strcmp(rel + n - sn, tools[i][0]) != 0)
            continue;
        bg_autofree char *src = bg_asprintf("%s/%s", moddir, rel);
        bg_autofree char *dir = bg_asprintf("%s/ko", b->tmp);
        bg_autofree char *dst =
            bg_asprintf("%s/%s.ko", dir, bg_imagebuild_module_name(rel, name, sizeof(name)));
        const char *argv[] = {tools[i][1], "-dc", "--", src, NULL};
        struct run run;
        int r = mkdir_p(dir, 0700, err);
        bg_autoclose int fd =
            r < 0 ? -1 : open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (r >= 0 && fd < 0)
            r = bg_error_errno(err, "create '%s'", dst);
        if (r < 0 || (r = run_ok(b, argv, NULL, fd, &run, NULL, err)) < 0)
            return r;
        run_done(&run);
        *ret = bg_steal_ptr(&dst);
        return 0;
    }
    *ret = bg_asprintf("%s/%s", moddir, rel);
    return 0;
}

/* "REL: DEP DEP" for one module, read from its .modinfo. */
static int moddep_line(struct build *b, const char *moddir, const struct kmods *k,
                       const struct kmod *m, char **text, char ***queue, size_t *qn,
                       struct bg_error *err)
{
    bg_autofree char *file = NULL, *elf = NULL, *deps = NULL;
    char *save = NULL;
    size_t len;
    int r;

    if ((r = plain_module(b, moddir, m->rel, &file, err)) < 0 ||
        (r = read_file(file, KO_MAX, &elf, &len, err)) < 0)
        return r;
    if ((r = bg_imagebuild_modinfo_depends(elf, len, &deps, err)) < 0)
        return bg_error_prefix(err, "module '%s'", m->rel);
    char *line = bg_asprintf("%s%s:", *text, m->rel);
    for (char *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
        char name[64];
        const struct kmod *dep = kmod_find(k, bg_imagebuild_module_name(d, name, sizeof(name)));
        if (!dep) {
            free(line);
            return bg_error_set(err, -ENOENT,
                                "module '%s' needs '%s', which the kernel package "
                                "lacks",
                                m->name, d);
        }
        char *next = bg_asprintf("%s %s", line, dep->rel);
        free(line);
        line = next;
        if (*qn < BG_IMAGEBUILD_MODULES_MAX * 2)
            (*queue)[(*qn)++] = bg_strdup(dep->name);
    }
    free(*text);
    *text = bg_asprintf("%s\n", line);
    free(line);
    return 0;
}

/* Debian's package ships no modules.dep (depmod makes it when the package is installed), so
 * write the part banger needs from the modules' own .modinfo "depends=" entries. */
static int make_moddep(struct build *b, const char *moddir, char **ret, struct bg_error *err)
{
    struct kmods k = {0};
    char **queue = bg_calloc(BG_IMAGEBUILD_MODULES_MAX * 2, sizeof(char *));
    char *text = bg_strdup("");
    size_t qn = 0;
    int r = walk(moddir, "kernel", 0, &k, err);

    for (const char *const *w = bg_imagebuild_modules; *w; w++)
        queue[qn++] = bg_strdup(*w);
    for (size_t i = 0; r >= 0 && i < qn; i++) {
        const struct kmod *m = kmod_find(&k, queue[i]);
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(queue[j], queue[i]);
        if (m && !seen)
            r = moddep_line(b, moddir, &k, m, &text, &queue, &qn, err);
    }
    for (size_t i = 0; i < qn; i++)
        free(queue[i]);
    free(queue);
    kmods_done(&k);
    if (r < 0) {
        free(text);
        return r;
    }
    *ret = text;
    return 0;
}

/* Load order of the modules banger needs: *ret_paths relative to moddir. */
static int module_order(struct build *b, const char *moddir, char ***ret_paths, size_t *ret_n,
                        struct bg_error *err)
{
    bg_autofree char *dep_path = bg_asprintf("%s/modules.dep", moddir);
    bg_autofree char *builtin_path = bg_asprintf("%s/modules.builtin", moddir);
    bg_autofree char *dep = NULL, *builtin = NULL;
    struct bg_error ignored;
    int r;

    if (access(dep_path, F_OK) == 0)
        r = read_text(dep_path, &dep, err);
    else
        r = make_moddep(b, moddir, &dep, err);
    if (r < 0)
        return r;
    if (read_text(builtin_path, &builtin, &ignored) < 0)
        builtin = NULL;
    return bg_imagebuild_modules_order(dep, builtin, bg_imagebuild_modules, ret_paths, ret_n, err);
}

/* ---- the initramfs ---- */

struct initrd_dir {
    const char *name;
    mode_t perm;
};

static const struct initrd_dir initrd_dirs[] = {
    {"bin", 0755}, {"dev", 0755},        {"etc", 0755},
    {"lib", 0755}, {"lib/banger", 0755}, {"lib/banger/modules", 0755},
    {"mnt", 0755}, {"proc", 0555},       {"root", 0700},
    {"run", 0755}, {"sys", 0555},        {"tmp", 01777},
    {"usr", 0755}, {"var", 0755},
};

/* Merged-/usr style: every usual PATH directory leads to the busybox links in /bin. */
static const char *const initrd_links[][2] = {
    {"sbin", "bin"}, {"usr/bin", "../bin"}, {"usr/sbin", "../bin"}};

static int add_layout(struct bg_cpio *c, struct bg_error *err)
{
    static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n";
    static const char group[] = "root:x:0:\n";
    int r = 0;

    for (size_t i = 0; r >= 0 && i < BG_ARRAY_SIZE(initrd_dirs); i++)
        r = bg_cpio_add_dir(c, initrd_dirs[i].name, initrd_dirs[i].perm, err);
    for (size_t i = 0; r >= 0 && i < BG_ARRAY_SIZE(initrd_links); i++)
        r = bg_cpio_add_symlink(c, initrd_links[i][0], initrd_links[i][1], err);
    if (r >= 0)
        r = bg_cpio_add_data(c, "etc/passwd", 0644, passwd, sizeof(passwd) - 1, err);
    if (r >= 0)
        r = bg_cpio_add_data(c, "etc/group", 0644, group, sizeof(group) - 1, err);
    return r;
}

static bool applet_ok(const char *s, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.[]-";

    return n > 0 && n < 64 && s[0] != '.' && strspn(s, ok) >= n;
}

/* /bin/busybox and a link in /bin for every applet it lists. */
static int add_busybox(struct build *b, struct bg_cpio *c, struct bg_error *err)
{
    bg_autofree char *busybox = bg_asprintf("%s/bin/busybox", b->root);
    const char *argv[] = {busybox, "--list", NULL};
    struct run run;
    int r = bg_cpio_add_file(c, "bin/busybox", 0755, busybox, err);

    if (r < 0 || (r = run_ok(b, argv, NULL, -1, &run, NULL, err)) < 0)
        return r;
    for (const char *p = run.out; r >= 0 && *p;) {
        size_t n = strcspn(p, "\n");
        bg_autofree char *applet = bg_strndup(p, n);
        if (applet_ok(applet, n) && strcmp(applet, "busybox") != 0) {
            bg_autofree char *name = bg_asprintf("bin/%s", applet);
            r = bg_cpio_add_symlink(c, name, "busybox", err);
        }
        p += n + (p[n] == '\n');
    }
    run_done(&run);
    return r;
}

/* /lib/banger/modules/NAME.ko for each module, and modules.order listing them in order. */
static int add_modules(struct build *b, struct bg_cpio *c, const char *moddir, char **paths,
                       size_t n, struct bg_error *err)
{
    bg_autofree char *order = bg_strdup("");
    int r = 0;

    for (size_t i = 0; r >= 0 && i < n; i++) {
        char name[64];
        bg_autofree char *file = NULL;
        bg_imagebuild_module_name(paths[i], name, sizeof(name));
        bg_autofree char *dst = bg_asprintf("lib/banger/modules/%s.ko", name);
        if ((r = plain_module(b, moddir, paths[i], &file, err)) < 0)
            break;
        r = bg_cpio_add_file(c, dst, 0644, file, err);
        char *next = bg_asprintf("%s/%s\n", order, dst);
        free(order);
        order = next;
    }
    if (r < 0)
        return r;
    return bg_cpio_add_data(c, "lib/banger/modules.order", 0644, order, strlen(order), err);
}

static int write_initrd(struct build *b, const char *moddir, char **paths, size_t n, int64_t mtime,
                        struct bg_error *err)
{
    bg_autofree char *tmp = bg_asprintf("%s/initrd.img.tmp", b->imgdir);
    bg_autofree char *dst = bg_asprintf("%s/initrd.img", b->imgdir);
    bg_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    bg_auto(bg_cpio_freep) struct bg_cpio *c = NULL;
    int r;

    if (fd < 0)
        return bg_error_errno(err, "create '%s'", tmp);
    c = bg_cpio_new(fd, mtime);
    if ((r = add_layout(c, err)) < 0 || (r = add_busybox(b, c, err)) < 0 ||
        (r = add_modules(b, c, moddir, paths, n, err)) < 0 || (r = bg_cpio_finish(c, err)) < 0)
        return bg_error_prefix(err, "write the initramfs");
    if (fsync(fd) < 0)
        return bg_error_errno(err, "fsync '%s'", tmp);
    if (rename(tmp, dst) < 0)
        return bg_error_errno(err, "rename '%s'", tmp);
    b->img.files[BG_IMAGE_INITRD].path = bg_steal_ptr(&dst);
    return 0;
}

static int install_kernel(struct build *b, struct bg_error *err)
{
    bg_autofree char *src = bg_asprintf("%s/boot/vmlinuz-%s", b->root, b->kver);
    bg_autofree char *tmp = bg_asprintf("%s/vmlinuz.tmp", b->imgdir);
    const char *dst = b->img.files[BG_IMAGE_KERNEL].path;
    int r = copy_file(src, tmp, err);

    if (r < 0)
        return r;
    if (rename(tmp, dst) < 0)
        return bg_error_errno(err, "rename '%s'", tmp);
    return 0;
}

static int make_files(struct build *b, struct bg_error *err)
{
    bg_autofree char *moddir = bg_asprintf("%s/lib/modules/%s", b->root, b->kver);
    bg_autofree char *kernel = bg_asprintf("%s/boot/vmlinuz-%s", b->root, b->kver);
    char **paths = NULL;
    size_t n = 0;
    struct stat st;
    int r;

    step(b, 4, "modules");
    if ((r = module_order(b, moddir, &paths, &n, err)) < 0)
        return r;
    step(b, 5, "initramfs");
    /* The kernel's own mtime makes the archive the same for the same packages. */
    if (stat(kernel, &st) < 0)
        r = bg_error_errno(err, "stat '%s'", kernel);
    if (r >= 0)
        r = mkdir_p(b->imgdir, 0700, err);
    if (r >= 0)
        r = write_initrd(b, moddir, paths, n, st.st_mtime, err);
    if (r >= 0)
        r = install_kernel(b, err);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    return r;
}

/* ---- the job ---- */

static int build_run(struct build *b, struct bg_error *err)
{
    int r = mkdir_p(b->debs, 0755, err);

    if (r < 0 || (r = make_tmp(b, err)) < 0)
        return r;
    pthread_mutex_lock(&download_lock);
    r = download_all(b, err);
    pthread_mutex_unlock(&download_lock);
    if (r < 0)
        return r;
    step(b, 3, "unpack");
    if ((r = unpack(b, err)) < 0 || (r = find_kernel(b, err)) < 0 || (r = make_files(b, err)) < 0)
        return r;
    step(b, 6, "register");
    for (int k = BG_IMAGE_KERNEL; k < BG_IMAGE_FILE_COUNT_; k++) {
        struct bg_image_file *f = &b->img.files[k];
        if (f->path && (r = sha256_file(f->path, f->sha256, &f->size_bytes, err)) < 0)
            return r;
    }
    return 0;
}

static void finish(struct build *b, const struct bg_error *failure)
{
    struct bg_error err;

    if (failure) {
        b->img.state = BG_IMAGE_STATE_FAILED;
        b->img.error = bg_strdup(failure->msg);
        b->op.state = BG_OPERATION_STATE_FAILED;
        b->op.error = bg_problem_to_json(BG_PROBLEM_INTERNAL, failure->msg, b->op.target);
        bg_log_warn("build image '%s': %s", b->img.name, failure->msg);
    } else {
        b->img.state = BG_IMAGE_STATE_READY;
        b->op.state = BG_OPERATION_STATE_SUCCEEDED;
        b->op.done = b->op.total;
        b->op.result = bg_image_to_json(&b->img);
        bg_log_info("build image '%s': ready (kernel %s, %u package(s) downloaded)", b->img.name,
                    b->kver, b->downloaded);
    }
    if (bg_store_image_update(b->d->store, &b->img, NULL, &err) < 0)
        bg_log_error("build image '%s': %s", b->img.name, err.msg);
    report(b);
}

static void build_free(struct build *b)
{
    bg_image_done(&b->img);
    bg_operation_done(&b->op);
    free(b->debs);
    free(b->tmp);
    free(b->root);
    free(b->imgdir);
    free(b->kver);
    free(b->debs_meta);
    free(b->debs_kernel);
    free(b->debs_busybox);
    free(b);
}

void bg_imagebuild_remove_files(struct bg_daemon *d, const char *name)
{
    static const char *const files[] = {"vmlinuz", "initrd.img", "vmlinuz.tmp", "initrd.img.tmp"};
    bg_autofree char *dir = bg_asprintf("%s/images/%s", d->cfg->state_dir, name);

    for (size_t i = 0; i < BG_ARRAY_SIZE(files); i++) {
        bg_autofree char *p = bg_asprintf("%s/%s", dir, files[i]);
        if (unlink(p) < 0 && errno != ENOENT)
            bg_log_warn("remove image '%s': %s: %s", name, p, strerror(errno));
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        bg_log_warn("remove image '%s': %s: %s", name, dir, strerror(errno));
}

static void remove_partial(struct build *b)
{
    static const char *const leftovers[] = {"initrd.img.tmp", "vmlinuz.tmp"};

    for (size_t i = 0; i < BG_ARRAY_SIZE(leftovers); i++) {
        bg_autofree char *p = bg_asprintf("%s/%s", b->imgdir, leftovers[i]);
        (void)unlink(p);
    }
}

static void build_main(void *arg)
{
    struct build *b = arg;
    struct bg_error err;
    int r = build_run(b, &err);

    if (b->tmp)
        rm_tree(b->tmp);
    if (r < 0)
        remove_partial(b);
    finish(b, r < 0 ? &err : NULL);
    build_free(b);
}

static void op_init(struct bg_operation *op, const char *name)
{
    unsigned char rnd[8];

    randombytes_buf(rnd, sizeof(rnd));
    memcpy(op->id, "op-", 3);
    sodium_bin2hex(op->id + 3, sizeof(op->id) - 3, rnd, sizeof(rnd));
    snprintf(op->kind, sizeof(op->kind), "image_build");
    snprintf(op->target, sizeof(op->target), "/v1/images/%s", name);
    snprintf(op->unit, sizeof(op->unit), "steps");
    snprintf(op->step, sizeof(op->step), "queued");
    op->state = BG_OPERATION_STATE_RUNNING;
    op->total = BG_IMAGEBUILD_STEPS;
    op->created_at = op->updated_at = time(NULL);
}

static struct build *build_new(struct bg_daemon *d, const char *name)
{
    struct build *b = bg_calloc(1, sizeof(*b));

    b->d = d;
    snprintf(b->img.name, sizeof(b->img.name), "%s", name);
    snprintf(b->img.arch, sizeof(b->img.arch), "x86_64");
    b->img.state = BG_IMAGE_STATE_IMPORTING;
    /* A bzImage: QEMU boots it; Firecracker needs an ELF vmlinux (not made here yet). */
    b->img.vmms = BG_VMM_QEMU;
    b->img.source = bg_strdup(BG_IMAGEBUILD_SOURCE);
    b->img.created_at = time(NULL);
    b->imgdir = bg_asprintf("%s/images/%s", d->cfg->state_dir, name);
    b->img.files[BG_IMAGE_KERNEL].path = bg_asprintf("%s/vmlinuz", b->imgdir);
    b->debs = bg_asprintf("%s/debs", d->cfg->cache_dir);
    op_init(&b->op, name);
    return b;
}

int bg_imagebuild_start(struct bg_daemon *d, const char *name, struct bg_operation *ret_op,
                        struct bg_error *err)
{
    struct build *b = build_new(d, name);
    int r;

    if ((r = bg_store_image_insert(d->store, &b->img, NULL, err)) < 0)
        goto fail;
    if ((r = bg_store_op_insert(d->store, &b->op, NULL, err)) < 0)
        goto fail_image;
    *ret_op = b->op; /* plain data while running: error and result are NULL */
    if ((r = bg_jobs_spawn(d->jobs, build_main, b, err)) < 0) {
        struct bg_error e = *err;
        finish(b, &e); /* the records stay, marked failed with the reason */
        goto fail;
    }
    return 0;

fail_image:
    (void)bg_store_image_delete(d->store, name, NULL, NULL);
fail:
    build_free(b);
    return r;
}
