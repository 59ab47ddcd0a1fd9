/* SPDX-License-Identifier: MIT */
/* Runs an image build's programs: argv only, a clean environment, stderr tail, shutdown. */
#include "image/build-internal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "host/spawn.h"
#include "rest/daemon.h"

#define PROGRAM_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define OUT_MAX (1u << 20) /* bytes of a program's stdout kept */

/* ---- running programs ---- */

void bg_imagebuild_run_done(struct run *r)
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

static void keep_err(struct run *r, const char *buf, size_t n)
{
    if (n >= BG_IMAGEBUILD_ERR_KEEP) {
        memcpy(r->err, buf + n - BG_IMAGEBUILD_ERR_KEEP, BG_IMAGEBUILD_ERR_KEEP);
        r->err_len = BG_IMAGEBUILD_ERR_KEEP;
    } else {
        size_t drop =
            r->err_len + n > BG_IMAGEBUILD_ERR_KEEP ? r->err_len + n - BG_IMAGEBUILD_ERR_KEEP : 0;
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

/* One program of a build, for the spawn callbacks. */
struct program {
    struct build *b;
    struct run *r;
};

static bool program_cancelled(void *userdata)
{
    const struct program *p = userdata;

    return bg_jobs_cancelled(p->b->d->jobs);
}

static int program_out(void *userdata, const char *buf, size_t len, struct bg_error *err)
{
    (void)err;
    keep_out(((struct program *)userdata)->r, buf, len);
    return 0;
}

static int program_err(void *userdata, const char *buf, size_t len, struct bg_error *err)
{
    (void)err;
    keep_err(((struct program *)userdata)->r, buf, len);
    return 0;
}

/* Run argv (no shell) in cwd (NULL: bangerd's) with stdout to out_fd, or captured into
 * ret->out when out_fd < 0. Returns 0 once the program ended (whatever its status). */
static int run_program(struct build *b, const char *const argv[], const char *cwd, int out_fd,
                       struct run *ret, struct bg_error *err)
{
    bg_autofree char *prog = find_program(argv[0]);
    struct program p = {.b = b, .r = ret};
    char **env;
    int r;

    memset(ret, 0, sizeof(*ret));
    if (!prog)
        return bg_error_set(err, -ENOENT, "'%s' is not installed (looked in %s)", argv[0],
                            PROGRAM_PATH);
    env = clean_env();
    /* its own process group lets a shutdown stop it with everything it started */
    struct bg_spawn_opts o = {.argv = argv,
                              .file = prog,
                              .cwd = cwd,
                              .env = env,
                              .own_pgroup = true,
                              .cancelled = program_cancelled,
                              .out_fd = out_fd,
                              .on_out = program_out,
                              .on_err = program_err,
                              .userdata = &p};
    r = bg_spawn_run(&o, &ret->status, err);
    bg_strv_free(env);
    if (r < 0)
        bg_imagebuild_run_done(ret);
    else if (!ret->out)
        ret->out = bg_strdup(""); /* nothing captured (or out_fd took it): still a string */
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
int bg_imagebuild_run_ok(struct build *b, const char *const argv[], const char *cwd, int out_fd,
                         struct run *ret, const char *hint, struct bg_error *err)
{
    int r = run_program(b, argv, cwd, out_fd, ret, err);

    if (r < 0)
        return r;
    if (bg_jobs_cancelled(b->d->jobs)) {
        bg_imagebuild_run_done(ret);
        return bg_error_set(err, -ECANCELED, "bangerd shut down during the build");
    }
    if (WIFEXITED(ret->status) && WEXITSTATUS(ret->status) == 0)
        return 0;
    bg_autofree char *why = err_summary(ret->err);
    int code = WIFEXITED(ret->status) ? WEXITSTATUS(ret->status) : 128 + WTERMSIG(ret->status);
    bg_imagebuild_run_done(ret);
    return bg_error_set(err, -EIO, "%s %s failed (exit %d): %s%s%s", argv[0],
                        argv[1] && argv[1][0] != '-' ? argv[1]
                        : argv[2]                    ? argv[2]
                                                     : "",
                        code, *why ? why : "no message", hint ? "; " : "", hint ? hint : "");
}
