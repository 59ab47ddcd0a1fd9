/* SPDX-License-Identifier: MIT */
/* The root helper's request and reply codec: one member table per operation, strict both ways. */
#include "banger/helperproto.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/utf8.h"

enum type {
    T_STR,  /* char[cap + 1] */
    T_I64,  /* int64_t in [0, INT32_MAX] (a pid) */
    T_U64,  /* uint64_t in [0, INT64_MAX] (a start time) */
    T_U32,  /* uint32_t */
    T_BOOL, /* bool */
};

struct member {
    const char *name;
    enum type type;
    size_t offset; /* in the request or reply struct */
    size_t cap;    /* T_STR: bytes at most */
    bool required;
};

#define RQ(n, t, f, req)                                                                           \
    {                                                                                              \
        n, t, offsetof(struct bg_helper_request, f),                                               \
            sizeof(((struct bg_helper_request *)0)->f) - 1, req                                    \
    }
#define RP(n, t, f)                                                                                \
    {                                                                                              \
        n, t, offsetof(struct bg_helper_reply, f), sizeof(((struct bg_helper_reply *)0)->f) - 1,   \
            true                                                                                   \
    }
#define RQ_N(n, t, f, req)                                                                         \
    {                                                                                              \
        n, t, offsetof(struct bg_helper_request, f), 0, req                                        \
    }
#define RP_N(n, t, f)                                                                              \
    {                                                                                              \
        n, t, offsetof(struct bg_helper_reply, f), 0, true                                         \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, T_STR, 0, 0, false                                                                   \
    }

static const struct member m_none[] = {END};
static const struct member m_vm[] = {RQ("vm", T_STR, vm, true), END};
static const struct member m_launch[] = {RQ("vm", T_STR, vm, true),
                                         RQ("vmm", T_STR, vmm, true),
                                         RQ("image", T_STR, image, false),
                                         RQ("kernel", T_STR, kernel, false),
                                         RQ("initrd", T_STR, initrd, false),
                                         RQ("rootfs", T_STR, rootfs, false),
                                         RQ_N("workdisk", T_BOOL, workdisk, false),
                                         END};
static const struct member m_signal[] = {RQ_N("pid", T_I64, pid, true),
                                         RQ_N("start_time", T_U64, start_time, true),
                                         RQ("signal", T_STR, signal, true), END};
static const struct member m_kill[] = {RQ_N("pid", T_I64, pid, true),
                                       RQ_N("start_time", T_U64, start_time, true), END};

/* Members of lists ("guests", "vms") are decoded by hand below; these tables only admit them. */
static const struct member m_guests[] = {{"guests", T_STR, 0, 0, true}, END};
static const struct member m_vms[] = {{"vms", T_STR, 0, 0, true}, END};

static const struct member r_hello[] = {
    RP_N("version", T_U32, version), RP_N("owner_uid", T_U32, owner_uid),
    RP("bridge", T_STR, bridge), RP("address", T_STR, address), END};
static const struct member r_bridge[] = {RP("bridge", T_STR, bridge), RP("address", T_STR, address),
                                         END};
static const struct member r_tap[] = {RP("tap", T_STR, tap), END};
static const struct member r_launch[] = {RP_N("pid", T_I64, pid),
                                         RP_N("start_time", T_U64, start_time), END};
static const struct member r_kill[] = {RP_N("exited", T_BOOL, exited), END};
static const struct member r_reconcile[] = {RP_N("removed", T_U32, removed),
                                            RP_N("killed", T_U32, killed), END};

struct op_desc {
    const char *name;
    const struct member *request;
    const struct member *reply;
};

static const struct op_desc ops[BG_HELPER_OP_COUNT] = {
    [BG_HELPER_OP_HELLO] = {"hello", m_none, r_hello},
    [BG_HELPER_OP_BRIDGE_ENSURE] = {"bridge_ensure", m_none, r_bridge},
    [BG_HELPER_OP_TAP_CREATE] = {"tap_create", m_vm, r_tap},
    [BG_HELPER_OP_TAP_DELETE] = {"tap_delete", m_vm, m_none},
    [BG_HELPER_OP_NAT_APPLY] = {"nat_apply", m_guests, m_none},
    [BG_HELPER_OP_VMM_LAUNCH] = {"vmm_launch", m_launch, r_launch},
    [BG_HELPER_OP_VMM_SIGNAL] = {"vmm_signal", m_signal, m_none},
    [BG_HELPER_OP_VMM_KILL] = {"vmm_kill", m_kill, r_kill},
    [BG_HELPER_OP_RECONCILE] = {"reconcile", m_vms, r_reconcile},
    [BG_HELPER_OP_TEARDOWN] = {"teardown", m_none, m_none},
};

const char *bg_helper_op_name(enum bg_helper_op op)
{
    return (unsigned)op < BG_HELPER_OP_COUNT ? ops[op].name : NULL;
}

/* ---- decoding ---- */

/* v as a string of at most cap bytes without NUL; copied into buf. */
static int get_str(const char *what, const json_t *v, size_t cap, char *buf, struct bg_error *err)
{
    if (!json_is_string(v))
        return bg_error_set(err, -EINVAL, "%s must be a string", what);
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (strlen(s) != n)
        return bg_error_set(err, -EINVAL, "%s holds a NUL byte", what);
    if (n > cap)
        return bg_error_set(err, -EINVAL, "%s is longer than %zu bytes", what, cap);
    memcpy(buf, s, n + 1);
    return 0;
}

static int get_int(const char *what, const json_t *v, json_int_t max, json_int_t *ret,
                   struct bg_error *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max)
        return bg_error_set(err, -EINVAL, "%s must be an integer in 0..%lld", what, (long long)max);
    *ret = json_integer_value(v);
    return 0;
}

static int member_get(const struct member *m, const json_t *v, char *base, struct bg_error *err)
{
    char *slot = base + m->offset;
    json_int_t n = 0;
    int r;

    switch (m->type) {
    case T_STR:
        return get_str(m->name, v, m->cap, slot, err);
    case T_BOOL:
        if (!json_is_boolean(v))
            return bg_error_set(err, -EINVAL, "%s must be true or false", m->name);
        *(bool *)slot = json_is_true(v);
        return 0;
    case T_I64:
        if ((r = get_int(m->name, v, INT32_MAX, &n, err)) == 0)
            *(int64_t *)slot = n;
        return r;
    case T_U64:
        if ((r = get_int(m->name, v, INT64_MAX, &n, err)) == 0)
            *(uint64_t *)slot = (uint64_t)n;
        return r;
    case T_U32:
        if ((r = get_int(m->name, v, UINT32_MAX, &n, err)) == 0)
            *(uint32_t *)slot = (uint32_t)n;
        return r;
    }
    return bg_error_set(err, -EINVAL, "%s has no type", m->name);
}

static const struct member *member_find(const struct member *ms, const char *key)
{
    for (; ms->name; ms++)
        if (!strcmp(ms->name, key))
            return ms;
    return NULL;
}

/* Every member of obj is in ms (or is one of the extra names), every required one is there;
 * the scalar ones are stored at base. */
static int members_decode(const char *what, const json_t *obj, const struct member *ms,
                          const char *const *extra, char *base, struct bg_error *err)
{
    const char *key;
    json_t *v;
    int r;

    json_object_foreach ((json_t *)obj, key, v) {
        bool known = false;
        for (const char *const *e = extra; *e; e++)
            known = known || !strcmp(*e, key);
        if (known)
            continue;
        const struct member *m = member_find(ms, key);
        if (!m)
            return bg_error_set(err, -EINVAL, "%s takes no member '%s'", what, BG_QUOTE(key));
        if (ms == m_guests || ms == m_vms)
            continue;
        if ((r = member_get(m, v, base, err)) < 0)
            return bg_error_prefix(err, r, "%s", what);
    }
    for (; ms->name; ms++)
        if (ms->required && !json_object_get(obj, ms->name))
            return bg_error_set(err, -EINVAL, "%s needs member '%s'", what, ms->name);
    return 0;
}

static int parse(const void *msg, size_t len, json_t **ret, struct bg_error *err)
{
    json_error_t jerr;

    if (len > BG_HELPER_MSG_MAX)
        return bg_error_set(err, -EMSGSIZE, "message of %zu bytes is over %d", len,
                            BG_HELPER_MSG_MAX);
    json_t *v = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        return bg_error_set(err, -EINVAL, "invalid JSON: %s", jerr.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return bg_error_set(err, -EINVAL, "message must be a JSON object");
    }
    *ret = v;
    return 0;
}

static int guests_decode(const json_t *list, struct bg_helper_request *r, struct bg_error *err)
{
    static const char *const allowed[] = {"vm", "address", "nat", NULL};
    size_t i;
    json_t *g;

    if (!json_is_array(list))
        return bg_error_set(err, -EINVAL, "guests must be a list");
    if (json_array_size(list) > BG_HELPER_GUESTS_MAX)
        return bg_error_set(err, -EINVAL, "guests has more than %d entries", BG_HELPER_GUESTS_MAX);
    r->guests = bg_calloc(json_array_size(list) + 1, sizeof(*r->guests));
    json_array_foreach (list, i, g) {
        struct bg_helper_guest *e = &r->guests[r->n_guests++];
        char what[32];
        int rc;

        snprintf(what, sizeof(what), "guests[%zu]", i);
        if (!json_is_object(g))
            return bg_error_set(err, -EINVAL, "%s must be an object", what);
        for (const char *const *a = allowed; *a; a++)
            if (!json_object_get(g, *a))
                return bg_error_set(err, -EINVAL, "%s needs member '%s'", what, *a);
        if (json_object_size(g) != 3)
            return bg_error_set(err, -EINVAL, "%s has members other than vm, address, nat", what);
        if ((rc = get_str("vm", json_object_get(g, "vm"), BG_NAME_MAX, e->vm, err)) < 0 ||
            (rc = get_str("address", json_object_get(g, "address"), BG_HELPER_ADDR_MAX, e->address,
                          err)) < 0)
            return bg_error_prefix(err, rc, "%s", what);
        if (!json_is_boolean(json_object_get(g, "nat")))
            return bg_error_set(err, -EINVAL, "%s: nat must be true or false", what);
        e->nat = json_is_true(json_object_get(g, "nat"));
    }
    return 0;
}

static int vms_decode(const json_t *list, struct bg_helper_request *r, struct bg_error *err)
{
    size_t i;
    json_t *v;

    if (!json_is_array(list))
        return bg_error_set(err, -EINVAL, "vms must be a list");
    if (json_array_size(list) > BG_HELPER_VMS_MAX)
        return bg_error_set(err, -EINVAL, "vms has more than %d entries", BG_HELPER_VMS_MAX);
    r->vms = bg_calloc(json_array_size(list) + 1, sizeof(*r->vms));
    json_array_foreach (list, i, v) {
        int rc = get_str("vms entry", v, BG_NAME_MAX, r->vms[r->n_vms], err);
        if (rc < 0)
            return bg_error_prefix(err, rc, "vms[%zu]", i);
        r->n_vms++;
    }
    return 0;
}

static int op_lookup(const json_t *v, enum bg_helper_op *ret, struct bg_error *err)
{
    const char *name = json_string_value(v);

    if (!json_is_string(v))
        return bg_error_set(err, -EINVAL, "request needs a string member 'op'");
    for (int i = 0; i < BG_HELPER_OP_COUNT; i++)
        if (!strcmp(ops[i].name, name) && strlen(name) == json_string_length(v)) {
            *ret = (enum bg_helper_op)i;
            return 0;
        }
    return bg_error_set(err, -EINVAL, "unknown operation '%s'", BG_QUOTE(name));
}

static int request_fill(const json_t *obj, struct bg_helper_request *r, struct bg_error *err)
{
    static const char *const extra[] = {"op", NULL};
    int rc;

    if ((rc = op_lookup(json_object_get(obj, "op"), &r->op, err)) < 0)
        return rc;
    if ((rc = members_decode(ops[r->op].name, obj, ops[r->op].request, extra, (char *)r, err)) < 0)
        return rc;
    if (r->op == BG_HELPER_OP_NAT_APPLY)
        rc = guests_decode(json_object_get(obj, "guests"), r, err);
    if (r->op == BG_HELPER_OP_RECONCILE)
        rc = vms_decode(json_object_get(obj, "vms"), r, err);
    return rc < 0 ? bg_error_prefix(err, rc, "%s", ops[r->op].name) : 0;
}

int bg_helper_request_decode(const void *msg, size_t len, struct bg_helper_request *ret,
                             struct bg_error *err)
{
    struct bg_helper_request r = {0};
    json_t *obj = NULL;
    int rc = parse(msg, len, &obj, err);

    if (rc < 0)
        return rc;
    rc = request_fill(obj, &r, err);
    json_decref(obj);
    if (rc < 0) {
        bg_helper_request_done(&r);
        return rc;
    }
    *ret = r;
    return 0;
}

void bg_helper_request_done(struct bg_helper_request *r)
{
    if (!r)
        return;
    free(r->guests);
    free(r->vms);
    memset(r, 0, sizeof(*r));
}

/* ---- encoding ---- */

static json_t *member_json(const struct member *m, const char *base)
{
    const char *slot = base + m->offset;

    switch (m->type) {
    case T_STR:
        return json_stringn(slot, strnlen(slot, m->cap + 1));
    case T_BOOL:
        return json_boolean(*(const bool *)slot);
    case T_I64:
        return json_integer((json_int_t) * (const int64_t *)slot);
    case T_U64:
        return json_integer((json_int_t) * (const uint64_t *)slot);
    case T_U32:
        return json_integer((json_int_t) * (const uint32_t *)slot);
    }
    return json_null();
}

/* Scalar members of ms from base into obj; optional strings only when not empty, optional
 * booleans only when true. A string that is not UTF-8 becomes null, which decode refuses. */
static void members_encode(json_t *obj, const struct member *ms, const char *base)
{
    for (; ms->name; ms++) {
        if (ms == m_guests || ms == m_vms)
            return;
        const char *slot = base + ms->offset;
        if (!ms->required && ms->type == T_STR && !slot[0])
            continue;
        if (!ms->required && ms->type == T_BOOL && !*(const bool *)slot)
            continue;
        json_t *v = member_json(ms, base);
        json_object_set_new(obj, ms->name, v ? v : json_null());
    }
}

static json_t *str_or_null(const char *s)
{
    json_t *v = json_string(s);
    return v ? v : json_null();
}

static void lists_encode(json_t *obj, const struct bg_helper_request *r)
{
    if (r->op == BG_HELPER_OP_NAT_APPLY) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_guests; i++)
            json_array_append_new(
                list, json_pack("{s:o,s:o,s:b}", "vm", str_or_null(r->guests[i].vm), "address",
                                str_or_null(r->guests[i].address), "nat", r->guests[i].nat));
        json_object_set_new(obj, "guests", list);
    }
    if (r->op == BG_HELPER_OP_RECONCILE) {
        json_t *list = json_array();
        for (size_t i = 0; i < r->n_vms; i++)
            json_array_append_new(list, str_or_null(r->vms[i]));
        json_object_set_new(obj, "vms", list);
    }
}

int bg_helper_request_encode(const struct bg_helper_request *r, char **ret, size_t *ret_len,
                             struct bg_error *err)
{
    struct bg_helper_request check;

    if ((unsigned)r->op >= BG_HELPER_OP_COUNT)
        return bg_error_set(err, -EINVAL, "unknown operation %d", (int)r->op);
    json_t *obj = json_pack("{s:s}", "op", ops[r->op].name);
    members_encode(obj, ops[r->op].request, (const char *)r);
    lists_encode(obj, r);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text)
        return bg_error_set(err, -EINVAL, "%s: request does not encode", ops[r->op].name);
    size_t len = strlen(text);
    int rc = bg_helper_request_decode(text, len, &check, err);
    if (rc < 0) {
        free(text);
        return rc;
    }
    bg_helper_request_done(&check);
    *ret = text;
    *ret_len = len;
    return 0;
}

void bg_helper_reply_encode(enum bg_helper_op op, const struct bg_helper_reply *r, char **ret,
                            size_t *ret_len)
{
    json_t *obj = NULL;

    if (r->code < 0) {
        bg_autofree char *msg =
            bg_utf8_lossy(r->message, strnlen(r->message, sizeof(r->message)), NULL);
        obj = json_pack("{s:b,s:i,s:s}", "ok", 0, "errno", r->code < -4095 ? 5 : -r->code,
                        "message", msg);
    } else {
        obj = json_pack("{s:b}", "ok", 1);
        if ((unsigned)op < BG_HELPER_OP_COUNT)
            members_encode(obj, ops[op].reply, (const char *)r);
    }
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!text) /* a result string that was not UTF-8: the reply still says something */
        text = bg_strdup("{\"ok\":false,\"errno\":5,\"message\":\"reply does not encode\"}");
    *ret = text;
    *ret_len = strlen(text);
}

/* The members of a failed reply. */
struct failure {
    uint32_t errnum;
    char message[BG_ERROR_MSG_MAX];
};

static int failure_decode(const json_t *obj, struct bg_helper_reply *r, struct bg_error *err)
{
    static const char *const extra[] = {"ok", NULL};
    static const struct member fail[] = {
        {"errno", T_U32, offsetof(struct failure, errnum), 0, true},
        {"message", T_STR, offsetof(struct failure, message), BG_ERROR_MSG_MAX - 1, true},
        END};
    struct failure f = {0};
    int rc = members_decode("reply", obj, fail, extra, (char *)&f, err);

    if (rc < 0)
        return rc;
    if (f.errnum == 0 || f.errnum > 4095)
        return bg_error_set(err, -EINVAL, "reply: errno must be in 1..4095");
    r->code = -(int)f.errnum;
    memcpy(r->message, f.message, sizeof(r->message));
    return 0;
}

int bg_helper_reply_decode(enum bg_helper_op op, const void *msg, size_t len,
                           struct bg_helper_reply *ret, struct bg_error *err)
{
    static const char *const extra[] = {"ok", NULL};
    struct bg_helper_reply r = {0};
    json_t *obj = NULL;
    int rc;

    if ((unsigned)op >= BG_HELPER_OP_COUNT)
        return bg_error_set(err, -EINVAL, "unknown operation %d", (int)op);
    if ((rc = parse(msg, len, &obj, err)) < 0)
        return rc;
    json_t *ok = json_object_get(obj, "ok");
    if (!json_is_boolean(ok))
        rc = bg_error_set(err, -EINVAL, "reply needs a boolean member 'ok'");
    else if (json_is_true(ok))
        rc = members_decode("reply", obj, ops[op].reply, extra, (char *)&r, err);
    else
        rc = failure_decode(obj, &r, err);
    json_decref(obj);
    if (rc < 0)
        return rc;
    *ret = r;
    return 0;
}

void bg_helper_tap_name(const char *vm, char *buf, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (const unsigned char *p = (const unsigned char *)vm; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    snprintf(buf, len, BG_HELPER_TAP_PREFIX "%012llx", (unsigned long long)(h >> 16));
}
