/* SPDX-License-Identifier: MIT */
/* Exec request codec: strict decoding of exec bodies, and lossy UTF-8 for collected output. */
#include "banger/exec.h"

#include <errno.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"
#include "banger/utf8.h"
#include "banger/validate.h"

static int field_invalid(struct bg_field_error *f, struct bg_error *err, const char *field,
                         const char *what)
{
    bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, field);
    return bg_error_set(err, -EINVAL, "field '%s': %s", field, what);
}

/* A JSON string without NUL bytes (C strings end there), copied. */
static int plain_string(const json_t *v, char **ret)
{
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return -EINVAL;
    *ret = bg_strdup(json_string_value(v));
    return 0;
}

static int decode_cmd(const json_t *body, struct bg_exec_request *r, struct bg_field_error *f,
                      struct bg_error *err)
{
    json_t *cmd = json_object_get(body, "cmd");
    size_t i, n;
    json_t *v;

    if (!cmd) {
        bg_field_error_set(f, BG_PROBLEM_MISSING_FIELD, "cmd");
        return bg_error_set(err, -EINVAL,
                            "field 'cmd' is required: the command and its "
                            "arguments as an array of strings");
    }
    if (!json_is_array(cmd))
        return field_invalid(f, err, "cmd", "must be an array of strings");
    n = json_array_size(cmd);
    if (n == 0)
        return field_invalid(f, err, "cmd", "needs at least the program");
    if (n > BG_EXEC_ARGV_MAX) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "cmd");
        return bg_error_set(err, -EINVAL, "field 'cmd': %zu strings; the limit is %d", n,
                            BG_EXEC_ARGV_MAX);
    }
    r->argv = bg_calloc(n + 1, sizeof(char *));
    json_array_foreach (cmd, i, v) {
        if (plain_string(v, &r->argv[i]) < 0) {
            bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "cmd");
            return bg_error_set(err, -EINVAL,
                                "field 'cmd': element %zu must be a string without NUL bytes", i);
        }
        r->argc++;
    }
    if (!r->argv[0][0])
        return field_invalid(f, err, "cmd", "the program name is empty");
    return 0;
}

bool bg_exec_env_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > BG_EXEC_ENV_NAME_MAX || strlen(name) != len)
        return false;
    if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') ||
          name[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static int decode_env(const json_t *body, struct bg_exec_request *r, struct bg_field_error *f,
                      struct bg_error *err)
{
    json_t *env = json_object_get(body, "env");
    const char *key;
    json_t *v;

    r->env = bg_calloc(1, sizeof(char *));
    if (!env)
        return 0;
    if (!json_is_object(env))
        return field_invalid(f, err, "env", "must be an object of string values");
    if (json_object_size(env) > BG_EXEC_ENV_MAX) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "env");
        return bg_error_set(err, -EINVAL, "field 'env': more than %d variables", BG_EXEC_ENV_MAX);
    }
    r->env = bg_realloc(r->env, (json_object_size(env) + 1) * sizeof(char *));
    json_object_foreach ((json_t *)env, key, v) {
        bg_autofree char *value = NULL;
        if (!bg_exec_env_name_valid(key, strlen(key))) {
            bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "env");
            return bg_error_set(err, -EINVAL,
                                "field 'env': '%s' is not a variable name "
                                "([A-Za-z_][A-Za-z0-9_]*)",
                                BG_QUOTE(key));
        }
        if (plain_string(v, &value) < 0) {
            bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "env");
            return bg_error_set(err, -EINVAL,
                                "field 'env': the value of '%s' must be a string without "
                                "NUL bytes",
                                BG_QUOTE(key));
        }
        r->env[r->envc++] = bg_asprintf("%s=%s", key, value);
        r->env[r->envc] = NULL;
    }
    return 0;
}

static int decode_cwd(const json_t *body, struct bg_exec_request *r, struct bg_field_error *f,
                      struct bg_error *err)
{
    json_t *cwd = json_object_get(body, "cwd");
    struct bg_error e;

    if (!cwd)
        return 0;
    if (!json_is_string(cwd))
        return field_invalid(f, err, "cwd", "must be a string");
    if (json_string_length(cwd) == 0)
        return 0;
    if (strlen(json_string_value(cwd)) != json_string_length(cwd))
        return field_invalid(f, err, "cwd", "contains a NUL byte");
    if (bg_path_validate(json_string_value(cwd), &e) < 0)
        return field_invalid(f, err, "cwd", e.msg);
    r->cwd = bg_strdup(json_string_value(cwd));
    return 0;
}

static int decode_flags(const json_t *body, struct bg_exec_request *r, struct bg_field_error *f,
                        struct bg_error *err)
{
    uint64_t timeout = 0;
    int ret;

    if ((ret = bg_json_get_bool(body, "tty", false, &r->tty, f, err)) < 0)
        return ret;
    if ((ret = bg_json_get_bool(body, "stdin", false, &r->attach_stdin, f, err)) < 0)
        return ret;
    ret = bg_json_get_uint(body, "timeout_s", false, 0, BG_EXEC_TIMEOUT_MAX, &timeout, f, err);
    if (ret < 0)
        return ret;
    r->timeout_s = (uint32_t)timeout;
    return 0;
}

int bg_exec_request_decode(const json_t *body, struct bg_exec_request *ret,
                           struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"cmd", "env", "cwd", "tty", "stdin", "timeout_s", NULL};
    struct bg_exec_request r = {0};
    int rc;

    if ((rc = bg_json_check_members(body, allowed, f, err)) < 0 ||
        (rc = decode_cmd(body, &r, f, err)) < 0 || (rc = decode_env(body, &r, f, err)) < 0 ||
        (rc = decode_cwd(body, &r, f, err)) < 0 || (rc = decode_flags(body, &r, f, err)) < 0) {
        bg_exec_request_done(&r);
        return rc;
    }
    *ret = r;
    return 0;
}

void bg_exec_request_done(struct bg_exec_request *r)
{
    bg_strv_free(r->argv);
    bg_strv_free(r->env);
    free(r->cwd);
    *r = (struct bg_exec_request){0};
}

json_t *bg_exec_request_to_json(const struct bg_exec_request *r)
{
    json_t *cmd = json_array();
    json_t *env = json_object();

    /* json_*_new setters steal the new value's reference */
    for (size_t i = 0; i < r->argc; i++)
        (void)json_array_append_new(cmd, json_string(r->argv[i]));
    for (size_t i = 0; i < r->envc; i++) {
        const char *eq = strchr(r->env[i], '=');
        bg_autofree char *name = bg_strndup(r->env[i], eq ? (size_t)(eq - r->env[i]) : 0);
        (void)json_object_set_new(env, name, json_string(eq ? eq + 1 : ""));
    }
    return json_pack("{s:o, s:o, s:s, s:b, s:b, s:I}", "cmd", cmd, "env", env, "cwd",
                     r->cwd ? r->cwd : "", "tty", r->tty, "stdin", r->attach_stdin, "timeout_s",
                     (json_int_t)r->timeout_s);
}

bool bg_exec_id_valid(const char *id)
{
    if (!id || strlen(id) != BG_EXEC_ID_LEN || strncmp(id, "exec-", 5))
        return false;
    for (const char *p = id + 5; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

json_t *bg_exec_text_lossy(const void *buf, size_t len)
{
    size_t n;
    bg_autofree char *text = bg_utf8_lossy(buf, len, &n);

    return json_stringn_nocheck(text, n);
}
