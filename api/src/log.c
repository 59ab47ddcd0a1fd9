/* SPDX-License-Identifier: MIT */
/* stderr logger: one write(2) per line so concurrent threads never interleave. */
#include "banger/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int threshold = BG_LOG_INFO;

void bg_log_set_level(enum bg_log_level level)
{
    threshold = level;
}

static const struct {
    const char *name;
    enum bg_log_level level;
} levels[] = {
    {"error", BG_LOG_ERROR},
    {"warn", BG_LOG_WARN},
    {"info", BG_LOG_INFO},
    {"debug", BG_LOG_DEBUG},
};

int bg_log_level_parse(const char *s, enum bg_log_level *ret)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(levels); i++)
        if (!strcmp(s, levels[i].name)) {
            *ret = levels[i].level;
            return 0;
        }
    return -EINVAL;
}

const char *bg_log_level_name(enum bg_log_level level)
{
    for (size_t i = 0; i < BG_ARRAY_SIZE(levels); i++)
        if (levels[i].level == level)
            return levels[i].name;
    return "info";
}

void bg_log(enum bg_log_level level, const char *fmt, ...)
{
    if ((int)level > threshold)
        return;

    char line[2048];
    int n;
    if (getenv("JOURNAL_STREAM")) {
        n = snprintf(line, sizeof(line), "<%d>", (int)level);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, bg_log_level_name(level));
    }
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
}
