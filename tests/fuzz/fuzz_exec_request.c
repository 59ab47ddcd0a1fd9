/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for exec request bodies (POST /v1/vms/{name}/exec): the daemon's JSON
 * parsing, then bg_exec_request_decode. A refusal must become a problem answer (its message
 * and field well-formed UTF-8 that JSON takes); a decoded request must be within its limits
 * and encode back to a body that decodes to the same request. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/exec.h"
#include "banger/jsonutil.h"
#include "banger/utf8.h"
#include "banger/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_text(const char *s)
{
    CHECK(bg_utf8_valid(s, strlen(s)));
    json_t *j = json_string(s);
    CHECK(j != NULL);
    json_decref(j);
}

/* A refusal carries its code, a message and a problem about a field, all encodable. */
static void check_refusal(int r, const struct bg_field_error *f, const struct bg_error *err)
{
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(f->problem < BG_PROBLEM_COUNT_);
    check_text(err->msg);
    check_text(f->field);
}

static void check_in_limits(const struct bg_exec_request *r)
{
    CHECK(r->argc >= 1 && r->argc <= BG_EXEC_ARGV_MAX && r->argv[r->argc] == NULL);
    CHECK(r->argv[0][0] != '\0');
    CHECK(r->envc <= BG_EXEC_ENV_MAX && r->env[r->envc] == NULL);
    for (size_t i = 0; i < r->envc; i++) {
        char name[BG_EXEC_ENV_NAME_MAX + 1];
        const char *eq = strchr(r->env[i], '=');
        CHECK(eq && (size_t)(eq - r->env[i]) <= BG_EXEC_ENV_NAME_MAX);
        memcpy(name, r->env[i], (size_t)(eq - r->env[i]));
        name[eq - r->env[i]] = '\0';
        CHECK(bg_exec_env_name_valid(name, strlen(name)));
    }
    CHECK(!r->cwd || bg_path_validate(r->cwd, NULL) == 0);
    CHECK(r->timeout_s <= BG_EXEC_TIMEOUT_MAX);
}

/* The request encodes (as text, as the API would show it) and decodes to itself. */
static void round_trip(const struct bg_exec_request *r)
{
    struct bg_exec_request again;
    struct bg_field_error f;
    struct bg_error err;
    json_t *j = bg_exec_request_to_json(r);

    CHECK(j != NULL);
    char *text = json_dumps(j, JSON_COMPACT);
    CHECK(text != NULL);
    free(text);
    CHECK(bg_exec_request_decode(j, &again, &f, &err) == 0);
    json_decref(j);
    CHECK(again.argc == r->argc && again.envc == r->envc);
    for (size_t i = 0; i < r->argc; i++)
        CHECK(!strcmp(again.argv[i], r->argv[i]));
    for (size_t i = 0; i < r->envc; i++)
        CHECK(!strcmp(again.env[i], r->env[i]));
    CHECK((!again.cwd && !r->cwd) || (again.cwd && r->cwd && !strcmp(again.cwd, r->cwd)));
    CHECK(again.tty == r->tty && again.attach_stdin == r->attach_stdin);
    CHECK(again.timeout_s == r->timeout_s);
    bg_exec_request_done(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bg_exec_request r;
    struct bg_field_error f = {0};
    struct bg_error err;
    json_t *body = NULL;
    int rc = bg_json_parse_object((const char *)data, size, &body, &f, &err);

    if (rc < 0) {
        check_refusal(rc, &f, &err);
        return 0;
    }
    rc = bg_exec_request_decode(body, &r, &f, &err);
    json_decref(body);
    if (rc < 0) {
        check_refusal(rc, &f, &err);
        return 0;
    }
    check_in_limits(&r);
    round_trip(&r);
    bg_exec_request_done(&r);
    return 0;
}
