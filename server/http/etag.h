/* SPDX-License-Identifier: MIT */
/* Conditional requests: If-None-Match against an entity tag (RFC 9110 section 13.1.2). */
#pragma once

#include <stdbool.h>

/* True when the If-None-Match field value matches etag (a quoted strong tag, "\"42\""):
 * "*", or any listed tag equal to etag under weak comparison (W/ prefixes ignored).
 * A malformed field value never matches. */
bool bg_http_etag_match(const char *if_none_match, const char *etag);
