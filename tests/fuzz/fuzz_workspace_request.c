/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for the workspace request body: JSON parsing, then
 * bg_workspace_request_decode. Every refusal must encode (its message and field go into a
 * problem+json answer); every accepted request must hold only what the decoder promises. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/jsonutil.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "workspace/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A refusal carries its code, a message that is valid UTF-8 and that jansson takes as a
 * string, and a problem about a field that encodes too. */
static void check_refusal(int r, const struct bg_field_error *f, const struct bg_error *err)
{
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    json_t *s = json_string(err->msg);
    CHECK(s != NULL);
    json_decref(s);
    CHECK(f->problem < BG_PROBLEM_COUNT_);
    CHECK(bg_utf8_valid(f->field, strlen(f->field)));
    json_t *p = bg_problem_to_json(f->problem, err->msg, f->field);
    char *text = json_dumps(p, 0);
    CHECK(text != NULL);
    free(text);
    json_decref(p);
}

/* What the decoder lets through for a ref: a short plain name that no git reads as an
 * option or a range. */
static void check_ref(const char *s)
{
    size_t n = strlen(s);

    CHECK(n > 0 && n <= BG_WORKSPACE_REF_MAX);
    CHECK(s[0] != '-');
    CHECK(!strstr(s, ".."));
    for (size_t i = 0; i < n; i++)
        CHECK(s[i] > ' ' && s[i] < 0x7f && !strchr(":?*[\\{} ", s[i]));
}

static void check_request(const struct bg_workspace_request *r)
{
    CHECK(r->path && r->path[0] == '/');
    CHECK(bg_path_validate(r->path, NULL) == 0);
    if (r->from) {
        CHECK(r->branch != NULL);
        check_ref(r->from);
    }
    if (r->branch) {
        CHECK(r->clone);
        check_ref(r->branch);
        CHECK(strcmp(r->branch, "HEAD") != 0 && !strstr(r->branch, "//"));
        CHECK(r->branch[0] != '/' && r->branch[strlen(r->branch) - 1] != '/');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bg_workspace_request req;
    json_t *body = NULL;
    struct bg_field_error f;
    struct bg_error err;
    int r = bg_json_parse_object((const char *)data, size, &body, &f, &err);

    if (r < 0) {
        check_refusal(r, &f, &err);
        return 0;
    }
    r = bg_workspace_request_decode(body, &req, &f, &err);
    json_decref(body);
    if (r < 0) {
        check_refusal(r, &f, &err);
        return 0;
    }
    CHECK(r == 0);
    check_request(&req);
    bg_workspace_request_done(&req);
    return 0;
}
