/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for request bodies: JSON parsing, then the VM, image and tunnel decoders. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/image.h"
#include "banger/jsonutil.h"
#include "banger/sshkey.h"
#include "banger/tunnel.h"
#include "banger/utf8.h"
#include "banger/validate.h"
#include "banger/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const struct bg_vm_defaults defaults = {.vcpus = 2, .memory_mib = 1024, .disk_mib = 8192};

/* A refusal carries the code it returned, a message and a problem about a field, and the
 * problem it becomes always encodes: message and field are valid UTF-8. */
static void check_refusal(int r, const struct bg_field_error *f, const struct bg_error *err)
{
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    CHECK(f->problem < BG_PROBLEM_COUNT_);
    CHECK(bg_utf8_valid(err->msg, strlen(err->msg)));
    CHECK(bg_utf8_valid(f->field, strlen(f->field)));
    json_t *p = bg_problem_to_json(f->problem, err->msg, "/v1/vms");
    CHECK(json_object_set_new(p, "field", json_string(f->field)) == 0);
    char *text = json_dumps(p, JSON_COMPACT);
    CHECK(text != NULL);
    free(text);
    json_decref(p);
}

static void check_spec_in_limits(const struct bg_vm_spec *s)
{
    CHECK(bg_name_validate(s->name, NULL) == 0);
    CHECK(bg_name_validate(s->image, NULL) == 0);
    CHECK(s->vcpus >= BG_VCPUS_MIN && s->vcpus <= BG_VCPUS_MAX);
    CHECK(s->memory_mib >= BG_MEMORY_MIB_MIN && s->memory_mib <= BG_MEMORY_MIB_MAX);
    CHECK(s->disk_mib >= BG_DISK_MIB_MIN && s->disk_mib <= BG_DISK_MIB_MAX);
}

/* A decoded spec encodes, and the encoding (less read-only members) decodes to it again. */
static void round_trip_spec(const struct bg_vm_spec *s)
{
    struct bg_vm vm = {.spec = *s, .state = BG_VM_STATE_CREATED};
    struct bg_vm_spec again;
    struct bg_field_error f;
    struct bg_error err;
    json_t *j = bg_vm_to_json(&vm);

    CHECK(j != NULL);
    static const char *const read_only[] = {"state", "created_at", "updated_at",
                                            "vmm",   "error",      "started_at"};
    for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
        json_object_del(j, read_only[i]);
    CHECK(bg_vm_spec_decode(j, &defaults, &again, &f, &err) == 0);
    json_decref(j);
    CHECK(strcmp(again.name, s->name) == 0 && strcmp(again.image, s->image) == 0);
    CHECK(again.vcpus == s->vcpus && again.memory_mib == s->memory_mib);
    CHECK(again.disk_mib == s->disk_mib && again.nat == s->nat);
}

static void fuzz_spec(const json_t *body)
{
    struct bg_vm_spec s;
    struct bg_field_error f;
    struct bg_error err;
    int r = bg_vm_spec_decode(body, &defaults, &s, &f, &err);

    if (r < 0) {
        check_refusal(r, &f, &err);
        return;
    }
    CHECK(r == 0);
    check_spec_in_limits(&s);
    round_trip_spec(&s);
}

static void fuzz_patch(const json_t *body)
{
    struct bg_vm_patch p;
    struct bg_field_error f;
    struct bg_error err;
    int r = bg_vm_patch_decode(body, &p, &f, &err);

    if (r < 0) {
        check_refusal(r, &f, &err);
        return;
    }
    struct bg_vm vm = {
        .spec = {
            .name = "fuzz", .image = "base", .vcpus = 2, .memory_mib = 1024, .disk_mib = 8192}};
    r = bg_vm_patch_apply(&p, &vm, &f, &err);
    if (r < 0) {
        check_refusal(r, &f, &err);
        CHECK(vm.spec.disk_mib == 8192 && vm.spec.vcpus == 2 && vm.spec.memory_mib == 1024);
        return;
    }
    CHECK(vm.spec.disk_mib >= 8192);
    check_spec_in_limits(&vm.spec);
    json_t *j = bg_vm_to_json(&vm);
    CHECK(j != NULL);
    json_decref(j);
}

static void fuzz_image(const json_t *body)
{
    struct bg_image_import req;
    struct bg_field_error f;
    struct bg_error err;
    int r = bg_image_import_decode(body, &req, &f, &err);

    if (r < 0) {
        check_refusal(r, &f, &err);
        return;
    }
    CHECK(bg_name_validate(req.name, NULL) == 0);
    CHECK(req.paths[BG_IMAGE_KERNEL] != NULL);
    for (int k = 0; k < BG_IMAGE_FILE_COUNT_; k++)
        CHECK(!req.paths[k] || bg_path_validate(req.paths[k], NULL) == 0);
    bg_image_import_done(&req);
}

/* A decoded tunnel request is in its limits; its key passes the strict check. */
static void fuzz_tunnel(const json_t *body)
{
    struct bg_tunnel_request t;
    struct bg_field_error f;
    struct bg_error err;
    int r = bg_tunnel_request_decode(body, &t, &f, &err);

    if (r < 0)
        return check_refusal(r, &f, &err);
    CHECK(t.port >= 1);
    CHECK(!t.authorized_key[0] ||
          bg_sshkey_validate(t.authorized_key, strlen(t.authorized_key), NULL) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    struct bg_field_error f;
    struct bg_error err;
    int r = bg_json_parse_object((const char *)data, size, &body, &f, &err);

    if (r < 0) {
        check_refusal(r, &f, &err);
        CHECK(f.problem == BG_PROBLEM_INVALID_JSON);
        return 0;
    }
    CHECK(json_is_object(body));
    fuzz_spec(body);
    fuzz_patch(body);
    fuzz_image(body);
    fuzz_tunnel(body);
    json_decref(body);
    return 0;
}
