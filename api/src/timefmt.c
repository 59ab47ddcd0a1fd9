/* SPDX-License-Identifier: MIT */
/* Time formatting and the monotonic clock. */
#include "banger/timefmt.h"

#include <stdio.h>

char *bg_time_format(int64_t t, char buf[BG_TIME_STR_MAX])
{
    struct tm tm;
    time_t tt = (time_t)t;
    gmtime_r(&tt, &tm);
    snprintf(buf, BG_TIME_STR_MAX, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

int64_t bg_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
