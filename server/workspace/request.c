/* SPDX-License-Identifier: MIT */
/* Decoding the workspace request body: path, mode, from, branch. */
#include "workspace/request.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"

static bool ref_char(char c, bool branch)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '/' || c == '-' || (!branch && (c == '~' || c == '^' || c == '@'));
}

/* The rules of git check-ref-format --branch that the character allow-list leaves open: no
 * empty component (so no leading, trailing or double '/'), none starting with '.' or ending
 * with ".lock", no trailing '.', and not "HEAD". */
static bool branch_shape_ok(const char *s, size_t n)
{
    if (!strcmp(s, "HEAD") || s[n - 1] == '.')
        return false;
    for (const char *c = s;; c++) {
        size_t len = strcspn(c, "/");
        if (len == 0 || c[0] == '.' || (len >= 5 && !strncmp(c + len - 5, ".lock", 5)))
            return false;
        c += len;
        if (!*c)
            return true;
    }
}

/* A ref as git would take it, restricted to an allow-list so nothing reads as an option or a
 * range: not starting with '-', no "..". */
static bool ref_ok(const char *s, size_t n, bool branch)
{
    if (n == 0 || n > BG_WORKSPACE_REF_MAX || s[0] == '-' || strstr(s, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!ref_char(s[i], branch))
            return false;
    return !branch || branch_shape_ok(s, n);
}

static int get_ref(const json_t *body, const char *key, char **ret, struct bg_field_error *f,
                   struct bg_error *err)
{
    bool branch = !strcmp(key, "branch");
    json_t *v = json_object_get(body, key);

    if (!v)
        return 0;
    /* strlen against the length: a "\u0000" inside would cut the string short */
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !ref_ok(json_string_value(v), json_string_length(v), branch)) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL,
                            "field '%s': must be a git %s of at most %d bytes (letters, digits, "
                            "'.', '_', '/', '-'%s; not starting with '-', no '..'%s)",
                            key, branch ? "branch name" : "commit or ref", BG_WORKSPACE_REF_MAX,
                            branch ? "" : ", '~', '^', '@'",
                            branch ? ", no empty part or part starting with '.' or ending in "
                                     "'.lock', not ending in '.', not HEAD"
                                   : "");
    }
    *ret = bg_strdup(json_string_value(v));
    return 1;
}

static int decode_mode(const json_t *body, bool *clone, struct bg_field_error *f,
                       struct bg_error *err)
{
    json_t *mode = json_object_get(body, "mode");

    if (!mode)
        return 0;
    if (json_is_string(mode) && !strcmp(json_string_value(mode), "copy"))
        return 0;
    if (json_is_string(mode) && !strcmp(json_string_value(mode), "clone")) {
        *clone = true;
        return 0;
    }
    bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "mode");
    return bg_error_set(err, -EINVAL,
                        "field 'mode': must be \"copy\" (the tracked files as they "
                        "are now) or \"clone\" (a full clone with history)");
}

/* The rules between fields, once each is valid alone. */
static int check_combination(const struct bg_workspace_request *r, struct bg_field_error *f,
                             struct bg_error *err)
{
    if (r->from && !r->branch) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "branch");
        return bg_error_set(err, -EINVAL,
                            "field 'branch': needed with 'from' (the new branch "
                            "to create at that commit)");
    }
    if ((r->from || r->branch) && !r->clone) {
        const char *key = r->from ? "from" : "branch";
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, key);
        return bg_error_set(err, -EINVAL, "field '%s': only with \"mode\": \"clone\"", key);
    }
    return 0;
}

int bg_workspace_request_decode(const json_t *body, struct bg_workspace_request *ret,
                                struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"path", "mode", "from", "branch", NULL};
    struct bg_workspace_request r = {0};
    int rc;

    if ((rc = bg_json_check_members(body, allowed, f, err)) < 0 ||
        (rc = bg_json_get_path(body, "path", true, &r.path, f, err)) < 0 ||
        (rc = decode_mode(body, &r.clone, f, err)) < 0 ||
        (rc = get_ref(body, "from", &r.from, f, err)) < 0 ||
        (rc = get_ref(body, "branch", &r.branch, f, err)) < 0 ||
        (rc = check_combination(&r, f, err)) < 0) {
        bg_workspace_request_done(&r);
        return rc;
    }
    *ret = r;
    return 0;
}

void bg_workspace_request_done(struct bg_workspace_request *r)
{
    free(r->path);
    free(r->from);
    free(r->branch);
    *r = (struct bg_workspace_request){0};
}
