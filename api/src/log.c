/* SPDX-License-Identifier: MIT */
/* stderr logger: one write(2) per line so concurrent threads never interleave. */
#include "banger/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "banger/utf8.h"

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

/* Append msg to line (from *n, up to cap bytes) as one line of valid UTF-8: control characters
 * and bytes that are not UTF-8 become escapes (\n, \t, \xNN), so text from a guest or a
 * client can never forge a log line or break a reader. */
static void append_escaped(char *line, size_t *n, size_t cap, const char *msg)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = strlen(msg);

    for (size_t i = 0; i < len && *n + 4 <= cap;) {
        unsigned char c = (unsigned char)msg[i];
        size_t k = bg_utf8_seq(msg + i, len - i);
        if (k > 0 && c >= 0x20 && c != 0x7f) {
            if (*n + k > cap)
                break;
            memcpy(line + *n, msg + i, k);
            *n += k;
            i += k;
            continue;
        }
        line[(*n)++] = '\\';
        if (c == '\n' || c == '\t') {
            line[(*n)++] = c == '\n' ? 'n' : 't';
        } else {
            line[(*n)++] = 'x';
            line[(*n)++] = hex[c >> 4];
            line[(*n)++] = hex[c & 15];
        }
        i++;
    }
}

void bg_log(enum bg_log_level level, const char *fmt, ...)
{
    if ((int)level > threshold)
        return;

    char msg[2048], line[2048 + 64];
    int h;
    if (getenv("JOURNAL_STREAM")) {
        h = snprintf(line, sizeof(line), "<%d>", (int)level);
    } else {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        h = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, bg_log_level_name(level));
    }
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = (size_t)h;
    append_escaped(line, &n, sizeof(line) - 1, msg);
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, n);
}
