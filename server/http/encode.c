/* SPDX-License-Identifier: MIT */
/* JSON reply bodies: compact encoding, and the fixed 500 problem when a body does not encode. */
#include "http/encode.h"

#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/problem.h"
#include "banger/utf8.h"

/* The last resort, for when even the problem below does not encode (out of memory). */
static const char fallback_static[] =
    "{\"type\":\"urn:banger:problem:internal\",\"title\":\"Internal error\",\"status\":500,"
    "\"detail\":\"bangerd could not encode its answer\",\"code\":\"internal\",\"instance\":\"/\"}";

/* Whether every object key in the tree is valid UTF-8. jansson's json_dumps refuses a string
 * value that is not, but writes such a key as a broken string and carries on (2.14), so keys
 * set with json_object_set_new_nocheck are checked here. Iterative: no recursion whose depth
 * a body controls. */
static bool keys_valid(json_t *root)
{
    size_t n = 0, cap = 16;
    json_t **stack = bg_malloc(cap * sizeof(*stack));
    bool ok = true;

    stack[n++] = root;
    while (n && ok) {
        json_t *j = stack[--n];
        const char *key;
        json_t *v;
        size_t i;

        if (json_is_object(j)) {
            json_object_foreach (j, key, v) {
                if (!bg_utf8_valid(key, strlen(key)))
                    ok = false;
                if (n == cap)
                    stack = bg_realloc(stack, (cap *= 2) * sizeof(*stack));
                stack[n++] = v;
            }
        } else if (json_is_array(j)) {
            json_array_foreach (j, i, v) {
                if (n == cap)
                    stack = bg_realloc(stack, (cap *= 2) * sizeof(*stack));
                stack[n++] = v;
            }
        }
    }
    free(stack);
    return ok;
}

void bg_http_encode(json_t *body, const char *instance, struct bg_http_text *ret)
{
    char *text = body && keys_valid(body) ? json_dumps(body, JSON_COMPACT) : NULL;

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
