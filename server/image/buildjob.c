/* SPDX-License-Identifier: MIT */
/* An image build's progress steps, and its programs run through bg_run: the proxy settings apt
 * honours, shutdown, and failures that quote apt's own "E:" lines. */
#include "image/buildjob.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "core/jobs.h"
#include "image/record.h"

void bg_imagebuild_step(struct bg_imagebuild *b, unsigned done, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(b->op.step, sizeof(b->op.step), fmt, ap);
    va_end(ap);
    b->op.done = done;
    b->op.step_done = b->op.step_total = 0;
    b->op.step_unit[0] = '\0';
    bg_log_debug("build image '%s': %s", b->img.name, b->op.step);
    bg_image_op_update(b->ctx.store, &b->op);
}

void bg_imagebuild_step_count(struct bg_imagebuild *b, uint64_t done, uint64_t total,
                              const char *unit, const char *fmt, ...)
{
    va_list ap;

    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(b->op.step, sizeof(b->op.step), fmt, ap);
        va_end(ap);
    }
    b->op.step_done = done;
    b->op.step_total = total;
    snprintf(b->op.step_unit, sizeof(b->op.step_unit), "%s", unit);
    bg_image_op_update(b->ctx.store, &b->op);
}

/* The clean environment plus the proxy settings apt honours, and extra. */
static char **build_env(const char *const *extra)
{
    static const char *const pass[] = {"http_proxy", "https_proxy", "no_proxy", NULL};
    size_t n = 0, n_extra = 0;

    while (bg_run_clean_env[n])
        n++;
    while (extra && extra[n_extra])
        n_extra++;
    char **env = bg_calloc(n + BG_ARRAY_SIZE(pass) + n_extra + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        env[i] = bg_strdup(bg_run_clean_env[i]);
    for (const char *const *p = pass; *p; p++) {
        const char *v = getenv(*p);
        if (v && *v)
            env[n++] = bg_asprintf("%s=%s", *p, v);
    }
    for (size_t i = 0; i < n_extra; i++)
        env[n++] = bg_strdup(extra[i]);
    return env;
}

static bool build_cancelled(void *cls)
{
    const struct bg_imagebuild *b = cls;

    return bg_jobs_cancelled(b->ctx.jobs);
}

/* The lines of stderr that say what went wrong: apt's "E:" lines, else the last line. */
static char *err_summary(const struct bg_run_result *r)
{
    char *sum = bg_strdup("");
    char last[512];

    for (const char *p = r->err; *p;) {
        size_t n = strcspn(p, "\n");
        if (n >= 3 && !strncmp(p, "E: ", 3)) {
            char *next = bg_asprintf("%s%s%.*s", sum, *sum ? "; " : "", (int)n, p);
            free(sum);
            sum = next;
        }
        p += n + (p[n] == '\n');
    }
    if (!*sum) {
        free(sum);
        sum = bg_strdup(bg_run_last_line(r, last, sizeof(last)));
    }
    return sum;
}

int bg_imagebuild_run_ok(struct bg_imagebuild *b, const char *const argv[], const char *cwd,
                         int out_fd, struct bg_run_result *ret, const char *hint,
                         struct bg_error *err)
{
    struct bg_imagebuild_cmd c = {.argv = argv, .cwd = cwd, .out_fd = out_fd, .hint = hint};

    return bg_imagebuild_run(b, &c, ret, err);
}

int bg_imagebuild_run(struct bg_imagebuild *b, const struct bg_imagebuild_cmd *c,
                      struct bg_run_result *ret, struct bg_error *err)
{
    const char *const *argv = c->argv;
    const char *hint = c->hint;
    char **env = build_env(c->env);
    struct bg_run_opts o = {.argv = argv,
                            .cwd = c->cwd,
                            .env = env,
                            .cancelled = build_cancelled,
                            .cls = b,
                            .out_fd = c->out_fd,
                            .on_output = c->on_output};
    int r = bg_run(&o, ret, err);

    bg_strv_free(env);
    if (r == -ECANCELED)
        return bg_error_set(err, r, "bangerd shut down during the build");
    if (r < 0 || ret->status == 0)
        return r;
    bg_autofree char *why = err_summary(ret);
    int code = ret->status;
    bg_run_result_done(ret);
    return bg_error_set(err, -EIO, "%s %s failed (exit %d): %s%s%s", argv[0],
                        argv[1] && argv[1][0] != '-' ? argv[1]
                        : argv[2]                    ? argv[2]
                                                     : "",
                        code, *why ? why : "no message", hint ? "; " : "", hint ? hint : "");
}
