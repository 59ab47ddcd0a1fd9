/* SPDX-License-Identifier: MIT */
/* Renders long-running operation progress as one line redrawn with '\r'. */
#include "progress.h"

#include <unistd.h>

static const char *pick_unit(uint64_t bytes, double *ret_div)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double div = 1;
    size_t u = 0;

    while (u + 1 < sizeof(units) / sizeof(units[0]) && (double)bytes >= div * 1024) {
        div *= 1024;
        u++;
    }
    *ret_div = div;
    return units[u];
}

char *bg_cli_progress_format(const char *verb, const char *name, uint64_t done, uint64_t total,
                             char buf[BG_CLI_PROGRESS_MAX])
{
    double div;
    const char *unit = pick_unit(total ? total : done, &div);

    if (!total) {
        snprintf(buf, BG_CLI_PROGRESS_MAX, "%s %s  %.1f %s", verb, name, (double)done / div, unit);
        return buf;
    }
    unsigned pct = done >= total ? 100 : (unsigned)((double)done * 100 / (double)total);
    snprintf(buf, BG_CLI_PROGRESS_MAX, "%s %s  %u%% %.1f/%.1f %s", verb, name, pct,
             (double)done / div, (double)total / div, unit);
    return buf;
}

void bg_cli_progress_init(struct bg_cli_progress *p, FILE *f)
{
    p->f = f;
    p->tty = isatty(fileno(f)) == 1;
    p->drawn = false;
}

void bg_cli_progress_update_text(struct bg_cli_progress *p, const char *text)
{
    if (!p->tty)
        return;
    /* \033[K clears what a longer previous line left behind */
    fprintf(p->f, "\r%.*s\033[K", BG_CLI_PROGRESS_MAX - 1, text);
    fflush(p->f);
    p->drawn = true;
}

void bg_cli_progress_update(struct bg_cli_progress *p, const char *verb, const char *name,
                            uint64_t done, uint64_t total)
{
    char line[BG_CLI_PROGRESS_MAX];

    bg_cli_progress_update_text(p, bg_cli_progress_format(verb, name, done, total, line));
}

void bg_cli_progress_done(struct bg_cli_progress *p)
{
    if (!p->drawn)
        return;
    fputs("\r\033[K", p->f);
    fflush(p->f);
    p->drawn = false;
}
