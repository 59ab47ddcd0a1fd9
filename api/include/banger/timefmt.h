/* SPDX-License-Identifier: MIT */
/* RFC 3339 timestamps as they appear on the wire. */
#pragma once

#include <stdint.h>
#include <time.h>

#include "banger/macro.h"

#define BG_TIME_STR_MAX 32

/* Format t (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" into buf. Returns buf. */
BG_PUBLIC char *bg_time_format(int64_t t, char buf[BG_TIME_STR_MAX]);
/* Monotonic clock in milliseconds, for deadlines. */
BG_PUBLIC int64_t bg_now_ms(void);
