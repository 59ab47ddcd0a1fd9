/* SPDX-License-Identifier: MIT */
/* One-line-per-event logging to stderr, journald-friendly. */
#pragma once

#include "banger/macro.h"

enum bg_log_level {
    BG_LOG_ERROR = 3, /* syslog priorities, so journald reads them as such */
    BG_LOG_WARN = 4,
    BG_LOG_INFO = 6,
    BG_LOG_DEBUG = 7,
};

/* Set the threshold; messages above it are dropped. Default BG_LOG_INFO. */
BG_PUBLIC void bg_log_set_level(enum bg_log_level level);
/* Parse "error|warn|info|debug"; returns 0 or -EINVAL. */
BG_PUBLIC int bg_log_level_parse(const char *s, enum bg_log_level *ret);
BG_PUBLIC const char *bg_log_level_name(enum bg_log_level level);

/* Write one line "<prefix> level message". Under journald (JOURNAL_STREAM set) the line
 * starts with "<N>" so the priority survives; otherwise it starts with a UTC timestamp. */
BG_PUBLIC void bg_log(enum bg_log_level level, const char *fmt, ...) BG_PRINTF(2, 3);

#define bg_log_error(...) bg_log(BG_LOG_ERROR, __VA_ARGS__)
#define bg_log_warn(...) bg_log(BG_LOG_WARN, __VA_ARGS__)
#define bg_log_info(...) bg_log(BG_LOG_INFO, __VA_ARGS__)
#define bg_log_debug(...) bg_log(BG_LOG_DEBUG, __VA_ARGS__)
