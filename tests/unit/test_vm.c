/* SPDX-License-Identifier: MIT */
/* Unit tests for api/src/vm.c: create/patch decoding, patch application, wire form, states. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "banger/vm.h"

static const struct bg_vm_defaults defaults = {.vcpus = 2, .memory_mib = 1024, .disk_mib = 8192};

/* A JSON literal as a new object; the test fails on a typo in the literal. */
static json_t *body(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        fail_msg("bad test literal '%s': %s", text, jerr.text);
    return v;
}

struct refusal {
    const char *body;
    enum bg_problem problem;
    const char *field;
    const char *fragment; /* expected in err.msg */
};

static void check_refusal(int r, const struct refusal *c, const struct bg_field_error *f,
                          const struct bg_error *err)
{
    if (r != -EINVAL)
        fail_msg("%s: returned %d, want -EINVAL", c->body, r);
    if (err->code != -EINVAL)
        fail_msg("%s: err.code %d", c->body, err->code);
    if (f->problem != c->problem)
        fail_msg("%s: problem %s, want %s (%s)", c->body, bg_problem_code(f->problem),
                 bg_problem_code(c->problem), err->msg);
    if (strcmp(f->field, c->field) != 0)
        fail_msg("%s: field '%s', want '%s'", c->body, f->field, c->field);
    if (!strstr(err->msg, c->fragment))
        fail_msg("%s: message '%s' lacks '%s'", c->body, err->msg, c->fragment);
}

/* Field-wise, so padding bytes never matter. */
static void assert_spec_equal(const struct bg_vm_spec *a, const struct bg_vm_spec *b)
{
    assert_string_equal(a->name, b->name);
    assert_string_equal(a->image, b->image);
    assert_int_equal(a->vcpus, b->vcpus);
    assert_int_equal(a->memory_mib, b->memory_mib);
    assert_int_equal(a->disk_mib, b->disk_mib);
    assert_int_equal(a->nat, b->nat);
    assert_int_equal(a->auto_remove, b->auto_remove);
}

static void assert_vm_equal(const struct bg_vm *a, const struct bg_vm *b)
{
    assert_spec_equal(&a->spec, &b->spec);
    assert_int_equal(a->state, b->state);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->updated_at, b->updated_at);
}

static void test_spec_defaults(void **state)
{
    (void)state;
    struct bg_vm_spec s;
    struct bg_field_error f = {.problem = BG_PROBLEM_INTERNAL, .field = "untouched"};
    struct bg_error err = {.code = 1, .msg = "untouched"};
    json_t *b = body("{\"name\":\"web1\",\"image\":\"base\"}");

    memset(&s, 0xa5, sizeof(s));
    s.nat = true; /* overwritten with the default, false */
    assert_int_equal(bg_vm_spec_decode(b, &defaults, &s, &f, &err), 0);
    json_decref(b);
    assert_string_equal(s.name, "web1");
    assert_string_equal(s.image, "base");
    assert_int_equal(s.vcpus, 2);
    assert_int_equal(s.memory_mib, 1024);
    assert_int_equal(s.disk_mib, 8192);
    assert_false(s.nat);
    assert_false(s.auto_remove);
    /* f and err are written only on failure */
    assert_int_equal(f.problem, BG_PROBLEM_INTERNAL);
    assert_string_equal(f.field, "untouched");
    assert_int_equal(err.code, 1);
}

/* With a default image, "image" may be left out; given, it wins. */
static void test_spec_default_image(void **state)
{
    (void)state;
    struct bg_vm_defaults def = defaults;
    struct bg_vm_spec s;
    struct bg_field_error f;
    struct bg_error err;
    json_t *b = body("{\"name\":\"web1\"}");

    def.image = "default";
    assert_int_equal(bg_vm_spec_decode(b, &def, &s, &f, &err), 0);
    assert_string_equal(s.image, "default");
    json_decref(b);
    b = body("{\"name\":\"web1\",\"image\":\"base\"}");
    assert_int_equal(bg_vm_spec_decode(b, &def, &s, &f, &err), 0);
    assert_string_equal(s.image, "base");
    json_decref(b);
    b = body("{\"name\":\"web1\",\"image\":\"Base\"}");
    assert_int_equal(bg_vm_spec_decode(b, &def, &s, &f, &err), -EINVAL);
    assert_int_equal(f.problem, BG_PROBLEM_INVALID_NAME);
    assert_string_equal(f.field, "image");
    json_decref(b);
}

static void test_spec_all_fields(void **state)
{
    (void)state;
    struct bg_vm_spec s;
    struct bg_field_error f;
    struct bg_error err;
    json_t *b = body("{\"name\":\"a\",\"image\":\"b-2\",\"vcpus\":32,\"memory_mib\":65536,"
                     "\"disk_mib\":1048576,\"nat\":true,\"auto_remove\":true}");

    assert_int_equal(bg_vm_spec_decode(b, &defaults, &s, &f, &err), 0);
    json_decref(b);
    assert_string_equal(s.name, "a");
    assert_string_equal(s.image, "b-2");
    assert_int_equal(s.vcpus, BG_VCPUS_MAX);
    assert_int_equal(s.memory_mib, BG_MEMORY_MIB_MAX);
    assert_int_equal(s.disk_mib, BG_DISK_MIB_MAX);
    assert_true(s.nat);
    assert_true(s.auto_remove);

    b = body("{\"name\":\"a\",\"image\":\"b\",\"vcpus\":1,\"memory_mib\":128,"
             "\"disk_mib\":512,\"nat\":false}");
    assert_int_equal(bg_vm_spec_decode(b, &defaults, &s, &f, &err), 0);
    json_decref(b);
    assert_int_equal(s.vcpus, BG_VCPUS_MIN);
    assert_int_equal(s.memory_mib, BG_MEMORY_MIB_MIN);
    assert_int_equal(s.disk_mib, BG_DISK_MIB_MIN);
    assert_false(s.nat);
}

static void test_spec_refusals(void **state)
{
    (void)state;
    static const struct refusal bad[] = {
        {"{}", BG_PROBLEM_MISSING_FIELD, "name", "field 'name' is required"},
        {"{\"image\":\"base\"}", BG_PROBLEM_MISSING_FIELD, "name", "field 'name' is required"},
        {"{\"name\":\"web\"}", BG_PROBLEM_MISSING_FIELD, "image", "field 'image' is required"},
        {"{\"name\":null,\"image\":\"base\"}", BG_PROBLEM_INVALID_FIELD, "name",
         "field 'name': must be a string"},
        {"{\"name\":7,\"image\":\"base\"}", BG_PROBLEM_INVALID_FIELD, "name", "must be a string"},
        {"{\"name\":\"Web\",\"image\":\"base\"}", BG_PROBLEM_INVALID_NAME, "name",
         "field 'name': name may contain only a-z, 0-9 and '-'"},
        {"{\"name\":\"\",\"image\":\"base\"}", BG_PROBLEM_INVALID_NAME, "name", "name is empty"},
        {"{\"name\":\"-web\",\"image\":\"base\"}", BG_PROBLEM_INVALID_NAME, "name",
         "must start and end with a letter or digit"},
        {"{\"name\":\"web_1\",\"image\":\"base\"}", BG_PROBLEM_INVALID_NAME, "name",
         "found '_' at 4"},
        {"{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
         "\"image\":\"base\"}",
         BG_PROBLEM_INVALID_NAME, "name", "64 characters long"},
        {"{\"name\":\"web\",\"image\":[\"base\"]}", BG_PROBLEM_INVALID_FIELD, "image",
         "field 'image': must be a string"},
        {"{\"name\":\"web\",\"image\":\"Base\"}", BG_PROBLEM_INVALID_NAME, "image",
         "field 'image': name may contain only"},
        {"{\"name\":\"web\",\"image\":\"base\",\"vcpus\":0}", BG_PROBLEM_INVALID_FIELD, "vcpus",
         "field 'vcpus': 0 is outside 1..32"},
        {"{\"name\":\"web\",\"image\":\"base\",\"vcpus\":33}", BG_PROBLEM_INVALID_FIELD, "vcpus",
         "33 is outside 1..32"},
        {"{\"name\":\"web\",\"image\":\"base\",\"vcpus\":-2}", BG_PROBLEM_INVALID_FIELD, "vcpus",
         "-2 is outside 1..32"},
        {"{\"name\":\"web\",\"image\":\"base\",\"vcpus\":2.0}", BG_PROBLEM_INVALID_FIELD, "vcpus",
         "field 'vcpus': must be an integer"},
        {"{\"name\":\"web\",\"image\":\"base\",\"vcpus\":\"2\"}", BG_PROBLEM_INVALID_FIELD, "vcpus",
         "must be an integer"},
        {"{\"name\":\"web\",\"image\":\"base\",\"vcpus\":null}", BG_PROBLEM_INVALID_FIELD, "vcpus",
         "must be an integer"},
        {"{\"name\":\"web\",\"image\":\"base\",\"memory_mib\":127}", BG_PROBLEM_INVALID_FIELD,
         "memory_mib", "field 'memory_mib': 127 is outside 128..65536"},
        {"{\"name\":\"web\",\"image\":\"base\",\"memory_mib\":65537}", BG_PROBLEM_INVALID_FIELD,
         "memory_mib", "65537 is outside 128..65536"},
        {"{\"name\":\"web\",\"image\":\"base\",\"memory_mib\":true}", BG_PROBLEM_INVALID_FIELD,
         "memory_mib", "must be an integer"},
        {"{\"name\":\"web\",\"image\":\"base\",\"disk_mib\":511}", BG_PROBLEM_INVALID_FIELD,
         "disk_mib", "field 'disk_mib': 511 is outside 512..1048576"},
        {"{\"name\":\"web\",\"image\":\"base\",\"disk_mib\":1048577}", BG_PROBLEM_INVALID_FIELD,
         "disk_mib", "1048577 is outside 512..1048576"},
        {"{\"name\":\"web\",\"image\":\"base\",\"disk_mib\":9223372036854775807}",
         BG_PROBLEM_INVALID_FIELD, "disk_mib", "9223372036854775807 is outside"},
        {"{\"name\":\"web\",\"image\":\"base\",\"disk_mib\":{}}", BG_PROBLEM_INVALID_FIELD,
         "disk_mib", "must be an integer"},
        {"{\"name\":\"web\",\"image\":\"base\",\"nat\":\"yes\"}", BG_PROBLEM_INVALID_FIELD, "nat",
         "field 'nat': must be true or false"},
        {"{\"name\":\"web\",\"image\":\"base\",\"nat\":1}", BG_PROBLEM_INVALID_FIELD, "nat",
         "must be true or false"},
        {"{\"name\":\"web\",\"image\":\"base\",\"nat\":null}", BG_PROBLEM_INVALID_FIELD, "nat",
         "must be true or false"},
        {"{\"name\":\"web\",\"image\":\"base\",\"auto_remove\":\"yes\"}", BG_PROBLEM_INVALID_FIELD,
         "auto_remove", "field 'auto_remove': must be true or false"},
        {"{\"name\":\"web\",\"image\":\"base\",\"colour\":\"red\"}", BG_PROBLEM_UNKNOWN_FIELD,
         "colour", "unknown field 'colour'"},
        {"{\"name\":\"web\",\"image\":\"base\",\"Vcpus\":2}", BG_PROBLEM_UNKNOWN_FIELD, "Vcpus",
         "unknown field 'Vcpus'"},
        /* unknown members are reported before anything else is looked at */
        {"{\"colour\":\"red\"}", BG_PROBLEM_UNKNOWN_FIELD, "colour", "unknown field 'colour'"},
        {"{\"name\":\"BAD\",\"id\":1}", BG_PROBLEM_UNKNOWN_FIELD, "id", "unknown field 'id'"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_vm_spec s, before;
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        json_t *b = body(bad[i].body);

        memset(&s, 0x5a, sizeof(s));
        s.name[0] = s.image[0] = '\0';
        s.nat = s.auto_remove = true; /* valid bools, so reading them back is defined */
        before = s;
        int r = bg_vm_spec_decode(b, &defaults, &s, &f, &err);
        json_decref(b);
        check_refusal(r, &bad[i], &f, &err);
        /* the output is written only on success */
        assert_spec_equal(&s, &before);
    }
}

static void test_spec_null_errs(void **state)
{
    (void)state;
    struct bg_vm_spec s;
    json_t *b = body("{\"name\":\"web\"}");

    assert_int_equal(bg_vm_spec_decode(b, &defaults, &s, NULL, NULL), -EINVAL);
    json_decref(b);
}

static void test_patch_partial(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        struct bg_vm_patch want;
    } good[] = {
        {"{}", {0}},
        {"{\"vcpus\":4}", {.has_vcpus = true, .vcpus = 4}},
        {"{\"memory_mib\":2048}", {.has_memory_mib = true, .memory_mib = 2048}},
        {"{\"disk_mib\":16384}", {.has_disk_mib = true, .disk_mib = 16384}},
        {"{\"nat\":false}", {.has_nat = true, .nat = false}},
        {"{\"nat\":true}", {.has_nat = true, .nat = true}},
        {"{\"vcpus\":1,\"nat\":true}",
         {.has_vcpus = true, .vcpus = 1, .has_nat = true, .nat = true}},
        {"{\"vcpus\":32,\"memory_mib\":128,\"disk_mib\":512,\"nat\":true}",
         {.has_vcpus = true,
          .vcpus = 32,
          .has_memory_mib = true,
          .memory_mib = 128,
          .has_disk_mib = true,
          .disk_mib = 512,
          .has_nat = true,
          .nat = true}},
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct bg_vm_patch p;
        struct bg_field_error f;
        struct bg_error err = {0};
        json_t *b = body(good[i].body);
        int r = bg_vm_patch_decode(b, &p, &f, &err);
        json_decref(b);
        if (r != 0)
            fail_msg("%s: returned %d (%s)", good[i].body, r, err.msg);
        const struct bg_vm_patch *w = &good[i].want;
        if (p.has_vcpus != w->has_vcpus || p.has_memory_mib != w->has_memory_mib ||
            p.has_disk_mib != w->has_disk_mib || p.has_nat != w->has_nat)
            fail_msg("%s: has_* %d%d%d%d", good[i].body, p.has_vcpus, p.has_memory_mib,
                     p.has_disk_mib, p.has_nat);
        if (w->has_vcpus)
            assert_int_equal(p.vcpus, w->vcpus);
        if (w->has_memory_mib)
            assert_int_equal(p.memory_mib, w->memory_mib);
        if (w->has_disk_mib)
            assert_int_equal(p.disk_mib, w->disk_mib);
        if (w->has_nat)
            assert_int_equal(p.nat, w->nat);
    }
}

static void test_patch_refusals(void **state)
{
    (void)state;
    static const struct refusal bad[] = {
        {"{\"name\":\"other\"}", BG_PROBLEM_FIELD_IMMUTABLE, "name",
         "field 'name' cannot be changed; create a new VM instead"},
        {"{\"image\":\"base\"}", BG_PROBLEM_FIELD_IMMUTABLE, "image",
         "field 'image' cannot be changed"},
        {"{\"name\":null}", BG_PROBLEM_FIELD_IMMUTABLE, "name", "cannot be changed"},
        {"{\"vcpus\":2,\"image\":\"x\"}", BG_PROBLEM_FIELD_IMMUTABLE, "image", "cannot be changed"},
        /* immutable beats unknown: the more helpful message wins */
        {"{\"bogus\":1,\"name\":\"x\"}", BG_PROBLEM_FIELD_IMMUTABLE, "name", "cannot be changed"},
        {"{\"bogus\":1}", BG_PROBLEM_UNKNOWN_FIELD, "bogus", "unknown field 'bogus'"},
        {"{\"auto_remove\":false}", BG_PROBLEM_FIELD_IMMUTABLE, "auto_remove",
         "field 'auto_remove' cannot be changed"},
        {"{\"state\":\"running\"}", BG_PROBLEM_UNKNOWN_FIELD, "state", "unknown field 'state'"},
        {"{\"vcpus\":0}", BG_PROBLEM_INVALID_FIELD, "vcpus", "0 is outside 1..32"},
        {"{\"vcpus\":null}", BG_PROBLEM_INVALID_FIELD, "vcpus", "must be an integer"},
        {"{\"memory_mib\":65537}", BG_PROBLEM_INVALID_FIELD, "memory_mib",
         "65537 is outside 128..65536"},
        {"{\"disk_mib\":100}", BG_PROBLEM_INVALID_FIELD, "disk_mib", "100 is outside 512..1048576"},
        {"{\"disk_mib\":null}", BG_PROBLEM_INVALID_FIELD, "disk_mib", "must be an integer"},
        {"{\"nat\":\"false\"}", BG_PROBLEM_INVALID_FIELD, "nat", "must be true or false"},
        {"{\"nat\":null}", BG_PROBLEM_INVALID_FIELD, "nat", "must be true or false"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct bg_vm_patch p, before;
        struct bg_field_error f = {0};
        struct bg_error err = {0};
        json_t *b = body(bad[i].body);

        memset(&p, 0x5a, sizeof(p));
        memset(&before, 0x5a, sizeof(before));
        int r = bg_vm_patch_decode(b, &p, &f, &err);
        json_decref(b);
        check_refusal(r, &bad[i], &f, &err);
        /* the output is written only on success */
        assert_memory_equal(&p, &before, sizeof(p));
    }
}

static struct bg_vm sample_vm(void)
{
    struct bg_vm vm = {
        .spec = {.name = "web1",
                 .image = "base",
                 .vcpus = 2,
                 .memory_mib = 1024,
                 .disk_mib = 8192,
                 .nat = false},
        .state = BG_VM_STATE_CREATED,
        .created_at = 1738324800, /* 2025-01-31T12:00:00Z */
        .updated_at = 1738324861,
    };
    return vm;
}

static void test_patch_apply(void **state)
{
    (void)state;
    struct bg_field_error f = {.problem = BG_PROBLEM_INTERNAL};
    struct bg_error err = {0};
    struct bg_vm vm = sample_vm();

    /* absent fields stay as they are */
    struct bg_vm_patch p = {.has_memory_mib = true, .memory_mib = 4096, .vcpus = 9, .nat = true};
    assert_int_equal(bg_vm_patch_apply(&p, &vm, &f, &err), 0);
    assert_int_equal(vm.spec.memory_mib, 4096);
    assert_int_equal(vm.spec.vcpus, 2);
    assert_int_equal(vm.spec.disk_mib, 8192);
    assert_false(vm.spec.nat);
    assert_int_equal(f.problem, BG_PROBLEM_INTERNAL);

    /* every field at once; the same disk size counts as growing by nothing */
    p = (struct bg_vm_patch){.has_vcpus = true,
                             .vcpus = 8,
                             .has_disk_mib = true,
                             .disk_mib = 8192,
                             .has_nat = true,
                             .nat = true};
    assert_int_equal(bg_vm_patch_apply(&p, &vm, &f, &err), 0);
    assert_int_equal(vm.spec.vcpus, 8);
    assert_int_equal(vm.spec.disk_mib, 8192);
    assert_true(vm.spec.nat);

    p = (struct bg_vm_patch){.has_disk_mib = true, .disk_mib = 20480};
    assert_int_equal(bg_vm_patch_apply(&p, &vm, &f, &err), 0);
    assert_int_equal(vm.spec.disk_mib, 20480);

    /* the empty patch changes nothing */
    struct bg_vm before = vm;
    p = (struct bg_vm_patch){0};
    assert_int_equal(bg_vm_patch_apply(&p, &vm, &f, &err), 0);
    assert_vm_equal(&vm, &before);
}

static void test_patch_apply_disk_shrink(void **state)
{
    (void)state;
    struct bg_field_error f = {0};
    struct bg_error err = {0};
    struct bg_vm vm = sample_vm();
    struct bg_vm before = vm;
    /* a refused patch changes nothing, not even the fields that were fine */
    struct bg_vm_patch p = {.has_vcpus = true,
                            .vcpus = 16,
                            .has_disk_mib = true,
                            .disk_mib = 8191,
                            .has_nat = true,
                            .nat = true};
    const struct refusal want = {"disk 8192 -> 8191", BG_PROBLEM_INVALID_FIELD, "disk_mib",
                                 "field 'disk_mib': the disk can only grow (now 8192 MiB, asked "
                                 "8191)"};

    check_refusal(bg_vm_patch_apply(&p, &vm, &f, &err), &want, &f, &err);
    assert_vm_equal(&vm, &before);
    assert_int_equal(bg_vm_patch_apply(&p, &vm, NULL, NULL), -EINVAL);
}

static void test_to_json(void **state)
{
    (void)state;
    struct bg_vm vm = sample_vm();
    vm.spec.nat = true;
    vm.spec.disk_mib = BG_DISK_MIB_MAX;
    vm.state = BG_VM_STATE_RUNNING;

    json_t *j = bg_vm_to_json(&vm);
    assert_non_null(j);
    assert_true(json_is_object(j));
    assert_int_equal(json_object_size(j), 13);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "web1");
    assert_string_equal(json_string_value(json_object_get(j, "image")), "base");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "running");
    assert_int_equal(json_integer_value(json_object_get(j, "vcpus")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "memory_mib")), 1024);
    assert_int_equal(json_integer_value(json_object_get(j, "disk_mib")), BG_DISK_MIB_MAX);
    assert_true(json_is_true(json_object_get(j, "nat")));
    assert_true(json_is_false(json_object_get(j, "auto_remove")));
    assert_string_equal(json_string_value(json_object_get(j, "created_at")),
                        "2025-01-31T12:00:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "updated_at")),
                        "2025-01-31T12:01:01Z");
    assert_true(json_is_null(json_object_get(j, "vmm")));
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_true(json_is_null(json_object_get(j, "started_at")));
    json_decref(j);

    vm.spec.nat = false;
    snprintf(vm.vmm, sizeof(vm.vmm), "qemu");
    snprintf(vm.error, sizeof(vm.error), "agent did not answer");
    vm.started_at = vm.created_at;
    j = bg_vm_to_json(&vm);
    assert_true(json_is_false(json_object_get(j, "nat")));
    assert_string_equal(json_string_value(json_object_get(j, "vmm")), "qemu");
    assert_string_equal(json_string_value(json_object_get(j, "error")), "agent did not answer");
    assert_string_equal(json_string_value(json_object_get(j, "started_at")),
                        "2025-01-31T12:00:00Z");
    json_decref(j);
}

static void test_to_json_round_trip(void **state)
{
    (void)state;
    struct bg_vm vm = sample_vm();
    vm.spec.nat = true;
    vm.spec.vcpus = 4;
    json_t *j = bg_vm_to_json(&vm);

    /* the encoded record, less its read-only members, is a valid create request */
    json_object_del(j, "state");
    json_object_del(j, "created_at");
    json_object_del(j, "updated_at");
    json_object_del(j, "vmm");
    json_object_del(j, "error");
    json_object_del(j, "started_at");
    struct bg_vm_spec s;
    struct bg_field_error f;
    struct bg_error err = {0};
    assert_int_equal(bg_vm_spec_decode(j, &defaults, &s, &f, &err), 0);
    json_decref(j);
    assert_spec_equal(&s, &vm.spec);
}

static void test_state_names(void **state)
{
    (void)state;
    static const char *const names[BG_VM_STATE_COUNT_] = {
        "created", "starting", "running", "stopping", "stopped", "failed",
    };

    for (int i = 0; i < BG_VM_STATE_COUNT_; i++) {
        enum bg_vm_state s = BG_VM_STATE_COUNT_;
        assert_string_equal(bg_vm_state_name((enum bg_vm_state)i), names[i]);
        assert_int_equal(bg_vm_state_parse(names[i], &s), 0);
        assert_int_equal(s, i);
    }
    /* out-of-range values read as failed rather than crash */
    assert_string_equal(bg_vm_state_name(BG_VM_STATE_COUNT_), "failed");

    const char *bad[] = {"", "Running", "running ", "run", "ready", "deleted"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum bg_vm_state s = BG_VM_STATE_STOPPED;
        assert_int_equal(bg_vm_state_parse(bad[i], &s), -EINVAL);
        assert_int_equal(s, BG_VM_STATE_STOPPED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults),           cmocka_unit_test(test_spec_default_image),
        cmocka_unit_test(test_spec_all_fields),         cmocka_unit_test(test_spec_refusals),
        cmocka_unit_test(test_spec_null_errs),          cmocka_unit_test(test_patch_partial),
        cmocka_unit_test(test_patch_refusals),          cmocka_unit_test(test_patch_apply),
        cmocka_unit_test(test_patch_apply_disk_shrink), cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_to_json_round_trip),      cmocka_unit_test(test_state_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
