/* SPDX-License-Identifier: MIT */
/* Renders long-running operation progress as one line redrawn with '\r'. */
#include "progress.h"

#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "banger/utf8.h"

#define BAR_MIN 10 /* columns under which the bar is left out */

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

/* "45% 41.2/87.4 MiB", "37/94 packages", "12 packages" or "41.2 MiB" into buf. */
static void count_text(uint64_t done, uint64_t total, const char *unit, char *buf, size_t len)
{
    unsigned pct = !total          ? 0
                   : done >= total ? 100
                                   : (unsigned)((double)done * 100 / (double)total);

    if (strcmp(unit, "bytes") != 0) {
        if (total)
            snprintf(buf, len, "%u%% %llu/%llu %s", pct, (unsigned long long)done,
                     (unsigned long long)total, unit);
        else
            snprintf(buf, len, "%llu %s", (unsigned long long)done, unit);
        return;
    }
    double div;
    const char *u = pick_unit(total ? total : done, &div);
    if (total)
        snprintf(buf, len, "%u%% %.1f/%.1f %s", pct, (double)done / div, (double)total / div, u);
    else
        snprintf(buf, len, "%.1f %s", (double)done / div, u);
}

char *bg_cli_progress_line(const char *verb, const char *name,
                           const struct bg_cli_progress_state *s, int64_t elapsed_s, unsigned width,
                           char buf[BG_CLI_PROGRESS_MAX])
{
    bool steps = s->unit && !strcmp(s->unit, "steps");
    char head[BG_CLI_PROGRESS_MAX], count[64] = "", tail[96] = "", bar[BG_CLI_PROGRESS_MAX] = "";
    uint64_t done = s->done, total = s->total;
    const char *unit = s->unit ? s->unit : "bytes";

    if (steps) {
        snprintf(head, sizeof(head), "%s %s  [%llu/%llu] %s", verb, name,
                 (unsigned long long)(s->done + (s->done < s->total)), (unsigned long long)s->total,
                 s->step ? s->step : "");
        done = s->step_done;
        total = s->step_total;
        unit = s->step_unit;
    } else {
        snprintf(head, sizeof(head), "%s %s", verb, name);
    }
    if (width == 0) {
        snprintf(buf, BG_CLI_PROGRESS_MAX, "%s", head);
        return buf;
    }
    if (unit && *unit)
        count_text(done, total, unit, count, sizeof(count));
    if (elapsed_s >= 0)
        snprintf(tail, sizeof(tail), "%s%s%lld:%02lld", count, *count ? " " : "",
                 (long long)(elapsed_s / 60), (long long)(elapsed_s % 60));
    else
        snprintf(tail, sizeof(tail), "%s", count);
    unsigned max = (width > BG_CLI_PROGRESS_MAX ? BG_CLI_PROGRESS_MAX : width) - 1;
    size_t fixed = strlen(head) + strlen(tail) + 4; /* " [" "] " */
    if (unit && *unit && total && fixed + BAR_MIN <= max) {
        size_t cols = max - fixed,
               fill =
                   (size_t)((double)cols * (double)(done > total ? total : done) / (double)total);
        for (size_t i = 0; i < cols; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[cols] = '\0';
    }
    if (*bar)
        snprintf(buf, BG_CLI_PROGRESS_MAX, "%s [%s] %s", head, bar, tail);
    else
        snprintf(buf, BG_CLI_PROGRESS_MAX, "%s%s%s", head, *tail ? "  " : "", tail);
    buf[bg_utf8_cut(buf, strlen(buf), max)] = '\0';
    return buf;
}

void bg_cli_progress_init(struct bg_cli_progress *p, FILE *f)
{
    struct winsize ws;

    p->f = f;
    p->tty = isatty(fileno(f)) == 1;
    p->drawn = false;
    p->width = p->tty && ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20 ? ws.ws_col : 80;
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
