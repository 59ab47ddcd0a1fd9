/* SPDX-License-Identifier: MIT */
/* JSON reply bodies: compact encoding, and the fixed 500 problem when a body does not encode. */
#include "http/encode.h"

#include <stdlib.h>
#include <string.h>

#include "banger/problem.h"

/* The last resort, for when even the problem below does not encode (out of memory). */
static const char fallback_static[] =
    "{\"type\":\"urn:banger:problem:internal\",\"title\":\"Internal error\",\"status\":500,"
    "\"detail\":\"bangerd could not encode its answer\",\"code\":\"internal\",\"instance\":\"/\"}";

void bg_http_encode(json_t *body, const char *instance, struct bg_http_text *ret)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

    json_decref(body);
    memset(ret, 0, sizeof(*ret));
    if (text) {
        ret->text = ret->owned = text;
        ret->len = strlen(text);
        return;
    }
    ret->fallback = true;
    /* bg_problem_to_json makes every string valid UTF-8, so this encodes unless memory is out */
    json_t *p =
        bg_problem_to_json(BG_PROBLEM_INTERNAL, "bangerd could not encode its answer", instance);
    text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (text) {
        ret->text = ret->owned = text;
        ret->len = strlen(text);
        return;
    }
    ret->text = fallback_static;
    ret->len = sizeof(fallback_static) - 1;
}

void bg_http_text_done(struct bg_http_text *t)
{
    free(t->owned);
    memset(t, 0, sizeof(*t));
}
