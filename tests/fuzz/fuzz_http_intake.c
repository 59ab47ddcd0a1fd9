/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for request intake and the reply encoder with arbitrary bytes: the
 * unescape callback's decoder, the target, path, query and header checks, the router's typed
 * parameters, and bg_http_encode on problems about that input and on bodies built from it.
 * Invariants: decoding never yields a NUL byte; every refusal is a known problem with a
 * message that is valid UTF-8 and encodes; every encoded reply is a JSON object, and one that
 * does not encode becomes the 500 internal problem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/macro.h"
#include "banger/utf8.h"
#include "http/encode.h"
#include "http/intake.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int h_none(struct bg_http_request *req)
{
    (void)req;
    return 0;
}

static const char *const allowed[] = {"state", "wait", "since", NULL};
static const struct bg_route routes[] = {
    {"GET", "/v1/vms", h_none, 0, allowed, 0},
    {"GET", "/v1/vms/{name:vm}", h_none, 0, NULL, 0},
    {"POST", "/v1/vms/{name:vm}/exec", h_none, BG_ROUTE_BODY, NULL, 0},
    {"GET", "/v1/images/{name:image}", h_none, 0, NULL, 0},
    {"GET", "/v1/execs/{id:exec}", h_none, 0, NULL, 0},
    {"GET", "/v1/operations/{id:operation}", h_none, 0, NULL, 0},
};

/* text encodes as a problem's detail, and the problem is a JSON object with its code. */
static void check_encodes(enum bg_problem p, const char *detail, const char *instance)
{
    struct bg_http_text t;
    json_error_t jerr;

    CHECK(bg_utf8_valid(detail, strlen(detail)));
    bg_http_encode(bg_problem_to_json(p, detail, instance), instance, &t);
    CHECK(!t.fallback);
    json_t *j = json_loadb(t.text, t.len, 0, &jerr);
    CHECK(json_is_object(j));
    CHECK(!strcmp(json_string_value(json_object_get(j, "code")), bg_problem_code(p)));
    json_decref(j);
    bg_http_text_done(&t);
}

static void check_refusal(int r, const struct bg_http_refusal *ref, const char *instance)
{
    if (r == 0)
        return;
    CHECK(r < 0);
    CHECK(ref->problem == BG_PROBLEM_INVALID_PATH || ref->problem == BG_PROBLEM_INVALID_QUERY ||
          ref->problem == BG_PROBLEM_INVALID_HEADER || ref->problem == BG_PROBLEM_URI_TOO_LONG);
    CHECK(ref->msg[0] != '\0');
    check_encodes(ref->problem, ref->msg, instance);
}

/* Decode s in place as the unescape callback does: never a NUL byte inside. */
static size_t decode(char *s)
{
    size_t before = strlen(s);
    bool nul = false;
    size_t n = bg_http_unescape(s, &nul);

    CHECK(n == strlen(s) && n <= before);
    return n;
}

/* The query part split as libmicrohttpd splits it ('&', then the first '='), each piece
 * decoded; at most BG_HTTP_QUERY_MAX + 1 kept, as the server collects them. */
static void fuzz_query(char *q, const char *instance)
{
    struct bg_http_arg args[BG_HTTP_QUERY_MAX + 1];
    struct bg_http_refusal ref;
    size_t n = 0;

    for (char *save = NULL, *tok = strtok_r(q, "&", &save); tok && n < BG_ARRAY_SIZE(args);
         tok = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq++ = '\0';
        decode(tok);
        if (eq)
            decode(eq);
        args[n++] = (struct bg_http_arg){.key = tok, .value = eq};
    }
    int r = bg_http_check_query_text(args, n, &ref);
    check_refusal(r, &ref, instance);
    if (r == 0)
        check_refusal(bg_http_check_query_keys(args, n, allowed, &ref), &ref, instance);
}

static void fuzz_route(const char *path)
{
    char *scratch = malloc(strlen(path) + 1);
    struct bg_route_match m;

    bg_router_match(routes, BG_ARRAY_SIZE(routes), "GET", path, scratch, &m);
    if (m.result == BG_ROUTE_BAD_PARAM) {
        CHECK(m.param[0] != '\0');
        check_encodes(BG_PROBLEM_INVALID_PATH, m.why.msg, path);
    } else if (m.result == BG_ROUTE_MATCHED) {
        for (size_t i = 0; i < BG_ROUTE_PARAMS_MAX && m.params[i]; i++)
            CHECK(bg_utf8_printable(m.params[i]));
    }
    free(scratch);
}

/* A body built from the raw bytes, as a careless handler might: as a key and as a string set
 * without checks. It encodes when the bytes are UTF-8, and is the 500 problem otherwise. */
static void fuzz_encode(const char *s, size_t len)
{
    struct bg_http_text t;
    json_error_t jerr;
    json_t *body = json_object();
    bool valid = bg_utf8_valid(s, len) && strlen(s) == len;

    json_object_set_new_nocheck(body, s, json_stringn_nocheck(s, len));
    bg_http_encode(body, s, &t);
    CHECK(t.fallback == !valid);
    json_t *j = json_loadb(t.text, t.len, 0, &jerr);
    CHECK(json_is_object(j));
    if (t.fallback)
        CHECK(!strcmp(json_string_value(json_object_get(j, "code")), "internal"));
    json_decref(j);
    bg_http_text_done(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bg_http_refusal ref;
    char *raw = malloc(size + 1);

    memcpy(raw, data, size);
    raw[size] = '\0';
    check_refusal(bg_http_check_target(raw, size, &ref), &ref, "/");
    /* from here on, as libmicrohttpd hands it over: a C string */
    size_t len = strlen(raw);
    fuzz_encode(raw, len);

    char *hv = memchr(raw, ':', len);
    if (hv) {
        *hv = '\0';
        check_refusal(bg_http_check_header(raw, hv + 1, &ref), &ref, "/");
        *hv = ':';
    }
    char *q = strchr(raw, '?');
    if (q)
        *q++ = '\0';
    decode(raw);
    check_refusal(bg_http_check_path(raw, &ref), &ref, raw);
    fuzz_route(raw);
    if (q)
        fuzz_query(q, raw);
    free(raw);
    return 0;
}
