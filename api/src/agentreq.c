/* SPDX-License-Identifier: MIT */
/* Strict decoding of the JSON payloads of agent frames, shared by the agent and the daemon. */
#include "banger/agentreq.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/exec.h"
#include "banger/jsonutil.h"
#include "banger/sshkey.h"
#include "banger/utf8.h"

/* Parse payload as one JSON object with only the allowed members. */
static int parse_object(const char *what, const void *payload, size_t len,
                        const char *const allowed[], json_t **ret, struct bg_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    const char *unknown;

    if (!v)
        return bg_error_set(err, -EINVAL, "%s: invalid JSON: %s", what, jerr.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return bg_error_set(err, -EINVAL, "%s: payload must be a JSON object", what);
    }
    if ((unknown = bg_json_unknown_member(v, allowed))) {
        int r = bg_error_set(err, -EINVAL, "%s: unknown field '%s'", what, BG_QUOTE(unknown));
        json_decref(v);
        return r;
    }
    *ret = v;
    return 0;
}

/* v as a string without NUL bytes of at most max bytes; NULL otherwise. */
static const char *plain_string(const json_t *v, size_t max)
{
    if (!json_is_string(v))
        return NULL;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    return strlen(s) == n && n <= max ? s : NULL;
}

/* An optional integer member in [min, max]: 0 absent, 1 present, -EINVAL otherwise. */
static int get_int(const char *what, const json_t *obj, const char *key, int64_t min, int64_t max,
                   int64_t *ret, struct bg_error *err)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bg_error_set(err, -EINVAL, "%s: '%s' must be an integer in %lld..%lld", what, key,
                            (long long)min, (long long)max);
    *ret = json_integer_value(v);
    return 1;
}

static int get_bool(const char *what, const json_t *obj, const char *key, bool *ret,
                    struct bg_error *err)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return bg_error_set(err, -EINVAL, "%s: '%s' must be true or false", what, key);
    *ret = json_is_true(v);
    return 1;
}

static int decode_argv(const json_t *obj, struct bg_agentreq_exec *r, struct bg_error *err)
{
    json_t *argv = json_object_get(obj, "argv");
    json_t *v;
    size_t i;

    if (!argv)
        return bg_error_set(err, -EINVAL, "EXEC: 'argv' is required");
    if (!json_is_array(argv) || json_array_size(argv) == 0)
        return bg_error_set(err, -EINVAL, "EXEC: 'argv' must be a non-empty array of strings");
    if (json_array_size(argv) > BG_AGENT_ARGV_MAX)
        return bg_error_set(err, -EINVAL, "EXEC: 'argv' has more than %d strings",
                            BG_AGENT_ARGV_MAX);
    r->argv = bg_calloc(json_array_size(argv) + 1, sizeof(char *));
    json_array_foreach (argv, i, v) {
        const char *s = plain_string(v, BG_AGENT_PAYLOAD_MAX);
        if (!s)
            return bg_error_set(err, -EINVAL,
                                "EXEC: 'argv'[%zu] must be a string without NUL bytes", i);
        r->argv[r->argc++] = bg_strdup(s);
    }
    if (!r->argv[0][0])
        return bg_error_set(err, -EINVAL, "EXEC: 'argv'[0] must not be empty");
    return 0;
}

static int decode_env(const json_t *obj, struct bg_agentreq_exec *r, struct bg_error *err)
{
    json_t *env = json_object_get(obj, "env");
    const char *key;
    json_t *v;

    if (env && !json_is_object(env))
        return bg_error_set(err, -EINVAL, "EXEC: 'env' must be an object of strings");
    if (env && json_object_size(env) > BG_AGENT_ENV_MAX)
        return bg_error_set(err, -EINVAL, "EXEC: 'env' has more than %d members", BG_AGENT_ENV_MAX);
    r->env = bg_calloc((env ? json_object_size(env) : 0) + 1, sizeof(char *));
    if (!env)
        return 0;
    json_object_foreach (env, key, v) {
        if (!bg_exec_env_name_valid(key, strlen(key)))
            return bg_error_set(err, -EINVAL, "EXEC: 'env': '%s' is not a variable name",
                                BG_QUOTE(key));
        const char *s = plain_string(v, BG_AGENT_PAYLOAD_MAX);
        if (!s)
            return bg_error_set(err, -EINVAL,
                                "EXEC: 'env': the value of '%s' must be a string without "
                                "NUL bytes",
                                BG_QUOTE(key));
        r->env[r->envc++] = bg_asprintf("%s=%s", key, s);
    }
    return 0;
}

static int decode_cwd(const json_t *obj, struct bg_agentreq_exec *r, struct bg_error *err)
{
    json_t *v = json_object_get(obj, "cwd");

    if (!v)
        return 0;
    const char *s = plain_string(v, BG_AGENT_CWD_MAX);
    if (!s)
        return bg_error_set(err, -EINVAL,
                            "EXEC: 'cwd' must be a string without NUL bytes, at most %d bytes",
                            BG_AGENT_CWD_MAX);
    if (s[0] && s[0] != '/')
        return bg_error_set(err, -EINVAL, "EXEC: 'cwd' must be an absolute path");
    if (s[0])
        r->cwd = bg_strdup(s);
    return 0;
}

static int decode_exec_object(const json_t *obj, struct bg_agentreq_exec *r, struct bg_error *err)
{
    int64_t rows = 0, cols = 0;
    int e;

    if ((e = decode_argv(obj, r, err)) < 0 || (e = decode_env(obj, r, err)) < 0 ||
        (e = decode_cwd(obj, r, err)) < 0 || (e = get_bool("EXEC", obj, "tty", &r->tty, err)) < 0 ||
        (e = get_bool("EXEC", obj, "stdin", &r->attach_stdin, err)) < 0 ||
        (e = get_int("EXEC", obj, "rows", 0, UINT16_MAX, &rows, err)) < 0 ||
        (e = get_int("EXEC", obj, "cols", 0, UINT16_MAX, &cols, err)) < 0)
        return e;
    r->rows = (uint16_t)rows;
    r->cols = (uint16_t)cols;
    return 0;
}

int bg_agentreq_exec_decode(const void *payload, size_t len, struct bg_agentreq_exec *ret,
                            struct bg_error *err)
{
    static const char *const allowed[] = {"argv",  "env",  "cwd",  "tty",
                                          "stdin", "rows", "cols", NULL};
    struct bg_agentreq_exec r = {0};
    json_t *obj = NULL;
    int e;

    if (len > BG_AGENT_PAYLOAD_MAX)
        return bg_error_set(err, -EINVAL, "EXEC: payload of %zu bytes is over %d", len,
                            BG_AGENT_PAYLOAD_MAX);
    if ((e = parse_object("EXEC", payload, len, allowed, &obj, err)) < 0)
        return e;
    e = decode_exec_object(obj, &r, err);
    json_decref(obj);
    if (e < 0) {
        bg_agentreq_exec_done(&r);
        return e;
    }
    *ret = r;
    return 0;
}

void bg_agentreq_exec_done(struct bg_agentreq_exec *r)
{
    for (size_t i = 0; r->argv && r->argv[i]; i++)
        free(r->argv[i]);
    for (size_t i = 0; r->env && r->env[i]; i++)
        free(r->env[i]);
    free(r->argv);
    free(r->env);
    free(r->cwd);
    *r = (struct bg_agentreq_exec){0};
}

/* Build the EXEC object; -EINVAL when an env entry is not NAME=value. */
static int exec_to_json(const struct bg_agentreq_exec *r, json_t **ret, struct bg_error *err)
{
    json_t *o = json_object();
    json_t *argv = json_array();
    json_t *env = json_object();

    (void)json_object_set_new(o, "argv", argv); /* o steals argv and env */
    (void)json_object_set_new(o, "env", env);
    for (size_t i = 0; r->argv && r->argv[i]; i++)
        (void)json_array_append_new(argv, json_string_nocheck(r->argv[i]));
    for (size_t i = 0; r->env && r->env[i]; i++) {
        const char *eq = strchr(r->env[i], '=');
        if (!eq) {
            json_decref(o);
            return bg_error_set(err, -EINVAL, "EXEC: env entry '%s' is not NAME=value",
                                BG_QUOTE(r->env[i]));
        }
        bg_autofree char *name = bg_strndup(r->env[i], (size_t)(eq - r->env[i]));
        (void)json_object_set_new_nocheck(env, name, json_string_nocheck(eq + 1));
    }
    (void)json_object_set_new(o, "cwd", json_string_nocheck(r->cwd ? r->cwd : ""));
    (void)json_object_set_new(o, "tty", json_boolean(r->tty));
    (void)json_object_set_new(o, "stdin", json_boolean(r->attach_stdin));
    (void)json_object_set_new(o, "rows", json_integer(r->rows));
    (void)json_object_set_new(o, "cols", json_integer(r->cols));
    *ret = o;
    return 0;
}

int bg_agentreq_exec_encode(const struct bg_agentreq_exec *r, char **ret, size_t *ret_len,
                            struct bg_error *err)
{
    struct bg_agentreq_exec check = {0};
    json_t *o = NULL;
    int e;

    if ((e = exec_to_json(r, &o, err)) < 0)
        return e;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return bg_error_set(err, -EINVAL, "EXEC: a string is not valid UTF-8");
    size_t n = strlen(s);
    if (n > BG_AGENT_PAYLOAD_MAX) {
        free(s);
        return bg_error_set(err, -EMSGSIZE, "EXEC: request of %zu bytes is over %d", n,
                            BG_AGENT_PAYLOAD_MAX);
    }
    if ((e = bg_agentreq_exec_decode(s, n, &check, err)) < 0) {
        free(s);
        return e;
    }
    bg_agentreq_exec_done(&check);
    *ret = s;
    *ret_len = n;
    return 0;
}

static int decode_caps(const json_t *caps, struct bg_agentreq_hello *h, struct bg_error *err)
{
    json_t *v;
    size_t i;

    if (!caps)
        return 0;
    if (!json_is_array(caps) || json_array_size(caps) > BG_AGENT_CAPS_MAX)
        return bg_error_set(err, -EINVAL, "HELLO: 'caps' must be an array of at most %d strings",
                            BG_AGENT_CAPS_MAX);
    json_array_foreach (caps, i, v) {
        const char *s = plain_string(v, BG_AGENT_NAME_MAX);
        if (!s)
            return bg_error_set(err, -EINVAL, "HELLO: 'caps'[%zu] must be a short string", i);
        h->cap_exec |= !strcmp(s, "exec");
        h->cap_pty |= !strcmp(s, "pty");
        h->cap_tcp |= !strcmp(s, "tcp");
        h->cap_sshd |= !strcmp(s, "sshd");
    }
    return 0;
}

int bg_agentreq_hello_decode(const void *payload, size_t len, struct bg_agentreq_hello *ret,
                             struct bg_error *err)
{
    static const char *const allowed[] = {"version", "agent", "caps", NULL};
    struct bg_agentreq_hello h = {0};
    json_t *obj = NULL;
    int64_t version = 0;
    int e;

    if ((e = parse_object("HELLO", payload, len, allowed, &obj, err)) < 0)
        return e;
    json_t *agent = json_object_get(obj, "agent");
    const char *name = agent ? plain_string(agent, BG_AGENT_NAME_MAX) : "";
    if ((e = get_int("HELLO", obj, "version", 1, UINT32_MAX, &version, err)) == 0)
        e = bg_error_set(err, -EINVAL, "HELLO: 'version' is required");
    else if (e > 0 && !name)
        e = bg_error_set(err, -EINVAL, "HELLO: 'agent' must be a string of at most %d bytes",
                         BG_AGENT_NAME_MAX);
    else if (e > 0)
        e = decode_caps(json_object_get(obj, "caps"), &h, err);
    if (e >= 0) {
        h.version = (uint32_t)version;
        snprintf(h.agent, sizeof(h.agent), "%s", name);
    }
    json_decref(obj);
    if (e < 0)
        return e;
    *ret = h;
    return 0;
}

int bg_agentreq_started_decode(const void *payload, size_t len, int *ret_pid, struct bg_error *err)
{
    static const char *const allowed[] = {"pid", NULL};
    json_t *obj = NULL;
    int64_t pid = 0;
    int e;

    if ((e = parse_object("STARTED", payload, len, allowed, &obj, err)) < 0)
        return e;
    e = get_int("STARTED", obj, "pid", 1, INT32_MAX, &pid, err);
    json_decref(obj);
    if (e == 0)
        return bg_error_set(err, -EINVAL, "STARTED: 'pid' is required");
    if (e < 0)
        return e;
    *ret_pid = (int)pid;
    return 0;
}

int bg_agentreq_exit_decode(const void *payload, size_t len, int *ret_exit_code, int *ret_signal,
                            struct bg_error *err)
{
    static const char *const allowed[] = {"exit_code", "signal", NULL};
    json_t *obj = NULL;
    int64_t code = -1, sig = 0;
    int e, has_code, has_sig;

    if ((e = parse_object("EXIT", payload, len, allowed, &obj, err)) < 0)
        return e;
    has_code = get_int("EXIT", obj, "exit_code", 0, 255, &code, err);
    has_sig = has_code < 0 ? 0 : get_int("EXIT", obj, "signal", 1, BG_AGENT_SIGNAL_MAX, &sig, err);
    json_decref(obj);
    if (has_code < 0 || has_sig < 0)
        return has_code < 0 ? has_code : has_sig;
    if (has_code + has_sig != 1)
        return bg_error_set(err, -EINVAL, "EXIT: exactly one of 'exit_code' and 'signal'");
    *ret_exit_code = has_code ? (int)code : -1;
    *ret_signal = (int)sig;
    return 0;
}

int bg_agentreq_error_decode(const void *payload, size_t len, char *buf, size_t size,
                             struct bg_error *err)
{
    static const char *const allowed[] = {"message", NULL};
    json_t *obj = NULL;
    int e;

    if ((e = parse_object("ERROR", payload, len, allowed, &obj, err)) < 0)
        return e;
    const char *msg = plain_string(json_object_get(obj, "message"), BG_AGENT_MESSAGE_MAX);
    if (!msg) {
        json_decref(obj);
        return bg_error_set(err, -EINVAL, "ERROR: 'message' must be a string of at most %d bytes",
                            BG_AGENT_MESSAGE_MAX);
    }
    /* jansson let only well-formed UTF-8 in: cutting on a boundary and masking single-byte
     * control characters keeps it well-formed, so the message may go into JSON and logs. */
    size_t n = bg_utf8_cut(msg, strlen(msg), size - 1);
    memcpy(buf, msg, n);
    buf[n] = '\0';
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    json_decref(obj);
    return 0;
}

/* obj[key] as an ssh public key; 0 absent, 1 present (copied into *ret), -EINVAL otherwise. */
static int get_sshkey(const char *what, const json_t *obj, const char *key, char **ret,
                      struct bg_error *err)
{
    json_t *v = json_object_get(obj, key);
    struct bg_error kerr;

    if (!v)
        return 0;
    const char *s = plain_string(v, BG_SSHKEY_MAX);
    if (!s)
        return bg_error_set(err, -EINVAL, "%s: '%s' must be a string of at most %d bytes", what,
                            key, BG_SSHKEY_MAX);
    if (bg_sshkey_validate(s, strlen(s), &kerr) < 0)
        return bg_error_set(err, -EINVAL, "%s: '%s': %s", what, key, kerr.msg);
    *ret = bg_strdup(s);
    return 1;
}

int bg_agentreq_connect_decode(const void *payload, size_t len, struct bg_agentreq_connect *ret,
                               struct bg_error *err)
{
    static const char *const allowed[] = {"port", "authorized_key", "host_keys", NULL};
    struct bg_agentreq_connect r = {0};
    json_t *obj = NULL;
    int64_t port = 0;
    int e;

    if ((e = parse_object("CONNECT", payload, len, allowed, &obj, err)) < 0)
        return e;
    if ((e = get_int("CONNECT", obj, "port", 1, UINT16_MAX, &port, err)) == 0)
        e = bg_error_set(err, -EINVAL, "CONNECT: 'port' is required");
    if (e > 0)
        e = get_sshkey("CONNECT", obj, "authorized_key", &r.authorized_key, err);
    if (e >= 0)
        e = get_bool("CONNECT", obj, "host_keys", &r.host_keys, err);
    json_decref(obj);
    if (e < 0) {
        bg_agentreq_connect_done(&r);
        return e;
    }
    r.port = (uint16_t)port;
    *ret = r;
    return 0;
}

int bg_agentreq_connect_encode(const struct bg_agentreq_connect *r, char **ret, size_t *ret_len,
                               struct bg_error *err)
{
    struct bg_agentreq_connect check = {0};
    struct bg_error kerr;
    int e;

    /* a valid key is ASCII, so json_string below takes it */
    if (r->authorized_key &&
        bg_sshkey_validate(r->authorized_key, strlen(r->authorized_key), &kerr) < 0)
        return bg_error_set(err, -EINVAL, "CONNECT: 'authorized_key': %s", kerr.msg);
    json_t *o = json_pack("{s:i, s:b}", "port", (int)r->port, "host_keys", r->host_keys);
    if (r->authorized_key)
        (void)json_object_set_new(o, "authorized_key", json_string(r->authorized_key));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        return bg_error_set(err, -EINVAL, "CONNECT: the request could not be encoded");
    size_t n = strlen(s);
    if ((e = bg_agentreq_connect_decode(s, n, &check, err)) < 0) {
        free(s);
        return e;
    }
    bg_agentreq_connect_done(&check);
    *ret = s;
    *ret_len = n;
    return 0;
}

void bg_agentreq_connect_done(struct bg_agentreq_connect *r)
{
    free(r->authorized_key);
    *r = (struct bg_agentreq_connect){0};
}

static int decode_host_keys(const json_t *keys, char ***ret, struct bg_error *err)
{
    struct bg_error kerr;
    json_t *v;
    size_t i;

    if (!json_is_array(keys) || json_array_size(keys) > BG_AGENT_HOST_KEYS_MAX)
        return bg_error_set(err, -EINVAL,
                            "STARTED: 'host_keys' must be an array of at most %d keys",
                            BG_AGENT_HOST_KEYS_MAX);
    char **list = bg_calloc(json_array_size(keys) + 1, sizeof(char *));
    json_array_foreach (keys, i, v) {
        const char *s = plain_string(v, BG_SSHKEY_MAX);
        if (!s || bg_sshkey_validate(s, strlen(s), &kerr) < 0) {
            bg_strv_free(list);
            return bg_error_set(err, -EINVAL, "STARTED: 'host_keys'[%zu]: %s", i,
                                s ? kerr.msg : "must be a string");
        }
        list[i] = bg_strdup(s);
    }
    *ret = list;
    return 0;
}

int bg_agentreq_connected_decode(const void *payload, size_t len, char ***ret_host_keys,
                                 struct bg_error *err)
{
    static const char *const allowed[] = {"host_keys", NULL};
    json_t *obj = NULL;
    char **keys = NULL;
    int e;

    if ((e = parse_object("STARTED", payload, len, allowed, &obj, err)) < 0)
        return e;
    json_t *v = json_object_get(obj, "host_keys");
    if (v)
        e = decode_host_keys(v, &keys, err);
    else
        keys = bg_calloc(1, sizeof(char *));
    json_decref(obj);
    if (e < 0)
        return e;
    *ret_host_keys = keys;
    return 0;
}

int bg_agentreq_closed_decode(const void *payload, size_t len, struct bg_error *err)
{
    static const char *const allowed[] = {NULL};
    json_t *obj = NULL;
    int e = parse_object("EXIT", payload, len, allowed, &obj, err);

    json_decref(obj);
    return e;
}
