/* SPDX-License-Identifier: MIT */
/* The helper's own record of taps, NAT guests and launched VMMs, in one JSON file. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/jsonutil.h"
#include "banger/proc.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "validate.h"

#define STATE_MAX (1024 * 1024)
#define TMP_FILE BG_HSTATE_FILE ".tmp"

static int openat2_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)flags, .mode = mode, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS};
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static int str_member(const json_t *o, const char *key, size_t cap, char *buf)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) > cap ||
        strlen(json_string_value(v)) != json_string_length(v))
        return -EINVAL;
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int taps_decode(const json_t *list, struct bg_hstate *s, struct bg_error *err)
{
    size_t i;
    json_t *e;

    s->taps = bg_calloc(json_array_size(list) + 1, sizeof(*s->taps));
    json_array_foreach (list, i, e) {
        struct bg_hstate_tap *t = &s->taps[s->n_taps];
        if (json_object_size(e) != 2 || str_member(e, "vm", BG_NAME_MAX, t->vm) < 0 ||
            str_member(e, "tap", BG_HELPER_TAP_LEN, t->tap) < 0 ||
            bg_name_validate(t->vm, NULL) < 0 || !bg_hv_is_tap_name(t->tap))
            return bg_error_set(err, -EINVAL, "taps[%zu] is not {vm, tap}", i);
        s->n_taps++;
    }
    return 0;
}

static int guests_decode(const json_t *list, struct bg_hstate *s, struct bg_error *err)
{
    size_t i;
    json_t *e;
    uint32_t a;

    s->guests = bg_calloc(json_array_size(list) + 1, sizeof(*s->guests));
    json_array_foreach (list, i, e) {
        struct bg_helper_guest *g = &s->guests[s->n_guests];
        if (json_object_size(e) != 3 || str_member(e, "vm", BG_NAME_MAX, g->vm) < 0 ||
            str_member(e, "address", BG_HELPER_ADDR_MAX, g->address) < 0 ||
            !json_is_boolean(json_object_get(e, "nat")) || bg_name_validate(g->vm, NULL) < 0 ||
            bg_ipv4_parse(g->address, &a, NULL) < 0)
            return bg_error_set(err, -EINVAL, "guests[%zu] is not {vm, address, nat}", i);
        g->nat = json_is_true(json_object_get(e, "nat"));
        s->n_guests++;
    }
    return 0;
}

static int vmms_decode(const json_t *list, struct bg_hstate *s, struct bg_error *err)
{
    size_t i;
    json_t *e;

    s->vmms = bg_calloc(json_array_size(list) + 1, sizeof(*s->vmms));
    json_array_foreach (list, i, e) {
        struct bg_hstate_vmm *v = &s->vmms[s->n_vmms];
        json_t *pid = json_object_get(e, "pid"), *st = json_object_get(e, "start_time");
        if (json_object_size(e) != 3 || str_member(e, "vm", BG_NAME_MAX, v->vm) < 0 ||
            !json_is_integer(pid) || json_integer_value(pid) < 2 ||
            json_integer_value(pid) > (json_int_t)BG_PROC_PID_MAX || !json_is_integer(st) ||
            json_integer_value(st) < 0 || bg_name_validate(v->vm, NULL) < 0)
            return bg_error_set(err, -EINVAL, "vmms[%zu] is not {vm, pid, start_time}", i);
        v->pid = (pid_t)json_integer_value(pid);
        v->start_time = (uint64_t)json_integer_value(st);
        s->n_vmms++;
    }
    return 0;
}

static const json_t *list_get(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_array(v) && json_array_size(v) <= BG_HELPER_VMS_MAX ? v : NULL;
}

int bg_hstate_decode(const char *text, size_t len, struct bg_hstate *ret, struct bg_error *err)
{
    static const char *const allowed[] = {"version", "bridge", "taps", "guests", "vmms", NULL};
    json_error_t jerr;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *taps = NULL, *guests = NULL, *vmms = NULL;
    int r = 0;

    if (!o)
        return bg_error_set(err, -EINVAL, "record is not JSON: %s", jerr.text);
    if (!json_is_object(o) || bg_json_unknown_member(o, allowed) ||
        json_integer_value(json_object_get(o, "version")) != 1 ||
        !json_is_boolean(json_object_get(o, "bridge")) || !(taps = list_get(o, "taps")) ||
        !(guests = list_get(o, "guests")) || !(vmms = list_get(o, "vmms")))
        r = bg_error_set(err, -EINVAL,
                         "record is not {version: 1, bridge, taps, guests, vmms} within caps");
    if (r == 0) {
        ret->bridge = json_is_true(json_object_get(o, "bridge"));
        if ((r = taps_decode(taps, ret, err)) == 0 && (r = guests_decode(guests, ret, err)) == 0)
            r = vmms_decode(vmms, ret, err);
    }
    json_decref(o);
    return r;
}

static char *encode(const struct bg_hstate *s)
{
    json_t *taps = json_array(), *guests = json_array(), *vmms = json_array();

    for (size_t i = 0; i < s->n_taps; i++)
        json_array_append_new(taps,
                              json_pack("{s:s,s:s}", "vm", s->taps[i].vm, "tap", s->taps[i].tap));
    for (size_t i = 0; i < s->n_guests; i++)
        json_array_append_new(guests, json_pack("{s:s,s:s,s:b}", "vm", s->guests[i].vm, "address",
                                                s->guests[i].address, "nat", s->guests[i].nat));
    for (size_t i = 0; i < s->n_vmms; i++)
        json_array_append_new(vmms, json_pack("{s:s,s:I,s:I}", "vm", s->vmms[i].vm, "pid",
                                              (json_int_t)s->vmms[i].pid, "start_time",
                                              (json_int_t)s->vmms[i].start_time));
    /* json_pack's "o" steals each list */
    json_t *o = json_pack("{s:i,s:b,s:o,s:o,s:o}", "version", 1, "bridge", s->bridge, "taps", taps,
                          "guests", guests, "vmms", vmms);
    char *text = json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static int read_record(int dirfd, char **ret, size_t *ret_len, struct bg_error *err)
{
    bg_autoclose int fd = openat2_beneath(dirfd, BG_HSTATE_FILE, O_RDONLY | O_CLOEXEC, 0);
    struct stat st;

    if (fd < 0)
        return errno == ENOENT ? -ENOENT : bg_error_errno(err, "open " BG_HSTATE_FILE);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STATE_MAX)
        return bg_error_set(err, -EINVAL,
                            BG_HSTATE_FILE " is not a regular file of at most %d "
                                           "bytes",
                            STATE_MAX);
    char *buf = bg_malloc((size_t)st.st_size + 1);
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t got = read(fd, buf + n, (size_t)st.st_size - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    *ret = buf;
    *ret_len = n;
    return 0;
}

int bg_hstate_open(const char *dir, struct bg_hstate *ret, struct bg_error *err)
{
    struct bg_hstate s = {.dirfd = -1};
    bg_autofree char *text = NULL;
    struct stat st;
    size_t len = 0;
    int r;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return bg_error_errno(err, "create helper state dir %s", dir);
    s.dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s.dirfd < 0)
        return bg_error_errno(err, "open helper state dir %s", dir);
    if (fstat(s.dirfd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 077)) {
        (void)close(s.dirfd);
        return bg_error_set(err, -EPERM, "helper state dir %s must be root's alone (0700)", dir);
    }
    r = read_record(s.dirfd, &text, &len, err);
    if (r == 0 && (r = bg_hstate_decode(text, len, &s, err)) < 0)
        r = bg_error_prefix(err, r, "%s/" BG_HSTATE_FILE, dir);
    if (r < 0 && r != -ENOENT) {
        bg_hstate_done(&s);
        return r;
    }
    *ret = s;
    return 0;
}

int bg_hstate_save(const struct bg_hstate *s, struct bg_error *err)
{
    bg_autofree char *text = encode(s);
    size_t len = strlen(text);
    bg_autoclose int fd = openat2_beneath(
        s->dirfd, TMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0)
        return bg_error_errno(err, "write helper record");
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return bg_error_errno(err, "write helper record");
        off += (size_t)w;
    }
    if (fsync(fd) < 0)
        return bg_error_errno(err, "write helper record");
    if (renameat(s->dirfd, TMP_FILE, s->dirfd, BG_HSTATE_FILE) < 0)
        return bg_error_errno(err, "write helper record");
    return 0;
}

void bg_hstate_done(struct bg_hstate *s)
{
    if (!s)
        return;
    if (s->dirfd >= 0)
        (void)close(s->dirfd);
    free(s->taps);
    free(s->guests);
    free(s->vmms);
    memset(s, 0, sizeof(*s));
    s->dirfd = -1;
}

struct bg_hstate_tap *bg_hstate_tap_find(struct bg_hstate *s, const char *vm)
{
    for (size_t i = 0; i < s->n_taps; i++)
        if (!strcmp(s->taps[i].vm, vm))
            return &s->taps[i];
    return NULL;
}

int bg_hstate_tap_add(struct bg_hstate *s, const char *vm, const char *tap, struct bg_error *err)
{
    if (s->n_taps >= BG_HELPER_VMS_MAX)
        return bg_error_set(err, -ENOSPC, "the helper has %d taps already", BG_HELPER_VMS_MAX);
    s->taps = bg_realloc(s->taps, (s->n_taps + 1) * sizeof(*s->taps));
    struct bg_hstate_tap *t = &s->taps[s->n_taps++];
    snprintf(t->vm, sizeof(t->vm), "%s", vm);
    snprintf(t->tap, sizeof(t->tap), "%s", tap);
    return 0;
}

void bg_hstate_tap_remove(struct bg_hstate *s, const char *vm)
{
    struct bg_hstate_tap *t = bg_hstate_tap_find(s, vm);

    if (t) {
        size_t i = (size_t)(t - s->taps);
        memmove(t, t + 1, (s->n_taps - i - 1) * sizeof(*t));
        s->n_taps--;
    }
}

int bg_hstate_vmm_add(struct bg_hstate *s, const char *vm, pid_t pid, uint64_t start_time,
                      struct bg_error *err)
{
    if (s->n_vmms >= BG_HELPER_VMS_MAX)
        return bg_error_set(err, -ENOSPC, "the helper has %d VMMs already", BG_HELPER_VMS_MAX);
    s->vmms = bg_realloc(s->vmms, (s->n_vmms + 1) * sizeof(*s->vmms));
    struct bg_hstate_vmm *v = &s->vmms[s->n_vmms++];
    snprintf(v->vm, sizeof(v->vm), "%s", vm);
    v->pid = pid;
    v->start_time = start_time;
    return 0;
}

void bg_hstate_vmm_remove(struct bg_hstate *s, size_t i)
{
    memmove(&s->vmms[i], &s->vmms[i + 1], (s->n_vmms - i - 1) * sizeof(*s->vmms));
    s->n_vmms--;
}

void bg_hstate_guests_set(struct bg_hstate *s, const struct bg_helper_guest *guests, size_t n)
{
    free(s->guests);
    s->guests = bg_calloc(n + 1, sizeof(*s->guests));
    if (n > 0)
        memcpy(s->guests, guests, n * sizeof(*guests));
    s->n_guests = n;
}
