/* SPDX-License-Identifier: MIT */
/* Strict number parsing: the only way banger turns text into integers. */
#pragma once

#include <stdint.h>

#include "banger/error.h"

/* Parse decimal s (digits only, no sign, no spaces) into *ret in [min, max].
 * Returns 0, or -EINVAL (not a number) / -ERANGE (outside [min, max]) with err set. */
BG_PUBLIC int bg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret,
                           struct bg_error *err);
