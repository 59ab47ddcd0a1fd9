/* SPDX-License-Identifier: MIT */
/* VM resource codec: strict decoding of create/patch bodies, encoding of records. */
#include "banger/vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "banger/jsonutil.h"
#include "banger/timefmt.h"

static const char *const state_names[BG_VM_STATE_COUNT_] = {
    [BG_VM_STATE_CREATED] = "created", [BG_VM_STATE_STARTING] = "starting",
    [BG_VM_STATE_RUNNING] = "running", [BG_VM_STATE_STOPPING] = "stopping",
    [BG_VM_STATE_STOPPED] = "stopped", [BG_VM_STATE_FAILED] = "failed",
};

const char *bg_vm_state_name(enum bg_vm_state s)
{
    return s < BG_VM_STATE_COUNT_ ? state_names[s] : "failed";
}

int bg_vm_state_parse(const char *s, enum bg_vm_state *ret)
{
    for (int i = 0; i < BG_VM_STATE_COUNT_; i++)
        if (!strcmp(s, state_names[i])) {
            *ret = (enum bg_vm_state)i;
            return 0;
        }
    return -EINVAL;
}

/* The mutable sizing fields shared by create and patch. Returns <0 or a bitmask of
 * which fields were present (1 vcpus, 2 memory, 4 disk, 8 nat). */
static int decode_sizing(const json_t *body, uint32_t *vcpus, uint32_t *memory_mib,
                         uint64_t *disk_mib, bool *nat, struct bg_field_error *f,
                         struct bg_error *err)
{
    uint64_t v;
    int r, present = 0;

    if ((r = bg_json_get_uint(body, "vcpus", false, BG_VCPUS_MIN, BG_VCPUS_MAX, &v, f, err)) < 0)
        return r;
    if (r > 0) {
        *vcpus = (uint32_t)v;
        present |= 1;
    }
    r = bg_json_get_uint(body, "memory_mib", false, BG_MEMORY_MIB_MIN, BG_MEMORY_MIB_MAX, &v, f,
                         err);
    if (r < 0)
        return r;
    if (r > 0) {
        *memory_mib = (uint32_t)v;
        present |= 2;
    }
    r = bg_json_get_uint(body, "disk_mib", false, BG_DISK_MIB_MIN, BG_DISK_MIB_MAX, disk_mib, f,
                         err);
    if (r < 0)
        return r;
    present |= r > 0 ? 4 : 0;
    if ((r = bg_json_get_bool(body, "nat", false, nat, f, err)) < 0)
        return r;
    return present | (r > 0 ? 8 : 0);
}

int bg_vm_spec_decode(const json_t *body, const struct bg_vm_defaults *def, struct bg_vm_spec *ret,
                      struct bg_field_error *f, struct bg_error *err)
{
    static const char *const allowed[] = {"name",     "image", "vcpus",       "memory_mib",
                                          "disk_mib", "nat",   "auto_remove", NULL};
    struct bg_vm_spec s = {
        .vcpus = def->vcpus, .memory_mib = def->memory_mib, .disk_mib = def->disk_mib};
    int r;

    if ((r = bg_json_check_members(body, allowed, f, err)) < 0)
        return r;
    if ((r = bg_json_get_name(body, "name", true, s.name, f, err)) < 0)
        return r;
    if (def->image)
        snprintf(s.image, sizeof(s.image), "%s", def->image);
    if ((r = bg_json_get_name(body, "image", !def->image, s.image, f, err)) < 0)
        return r;
    if ((r = decode_sizing(body, &s.vcpus, &s.memory_mib, &s.disk_mib, &s.nat, f, err)) < 0)
        return r;
    if ((r = bg_json_get_bool(body, "auto_remove", false, &s.auto_remove, f, err)) < 0)
        return r;
    *ret = s;
    return 0;
}

int bg_vm_patch_decode(const json_t *body, struct bg_vm_patch *ret, struct bg_field_error *f,
                       struct bg_error *err)
{
    static const char *const allowed[] = {"vcpus", "memory_mib", "disk_mib", "nat", NULL};
    static const char *const immutable[] = {"name", "image", "auto_remove"};
    struct bg_vm_patch p = {0};
    int r;

    for (size_t i = 0; i < BG_ARRAY_SIZE(immutable); i++)
        if (json_object_get(body, immutable[i])) {
            bg_field_error_set(f, BG_PROBLEM_FIELD_IMMUTABLE, immutable[i]);
            return bg_error_set(err, -EINVAL,
                                "field '%s' cannot be changed; create a new VM instead",
                                immutable[i]);
        }
    if ((r = bg_json_check_members(body, allowed, f, err)) < 0)
        return r;
    r = decode_sizing(body, &p.vcpus, &p.memory_mib, &p.disk_mib, &p.nat, f, err);
    if (r < 0)
        return r;
    p.has_vcpus = r & 1;
    p.has_memory_mib = r & 2;
    p.has_disk_mib = r & 4;
    p.has_nat = r & 8;
    *ret = p;
    return 0;
}

int bg_vm_patch_apply(const struct bg_vm_patch *patch, struct bg_vm *vm, struct bg_field_error *f,
                      struct bg_error *err)
{
    if (patch->has_disk_mib && patch->disk_mib < vm->spec.disk_mib) {
        bg_field_error_set(f, BG_PROBLEM_INVALID_FIELD, "disk_mib");
        return bg_error_set(
            err, -EINVAL, "field 'disk_mib': the disk can only grow (now %llu MiB, asked %llu)",
            (unsigned long long)vm->spec.disk_mib, (unsigned long long)patch->disk_mib);
    }
    if (patch->has_vcpus)
        vm->spec.vcpus = patch->vcpus;
    if (patch->has_memory_mib)
        vm->spec.memory_mib = patch->memory_mib;
    if (patch->has_disk_mib)
        vm->spec.disk_mib = patch->disk_mib;
    if (patch->has_nat)
        vm->spec.nat = patch->nat;
    return 0;
}

json_t *bg_vm_to_json(const struct bg_vm *vm)
{
    char created[BG_TIME_STR_MAX], updated[BG_TIME_STR_MAX], started[BG_TIME_STR_MAX];
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:b, s:s, s:s}", "name", vm->spec.name,
                          "image", vm->spec.image, "state", bg_vm_state_name(vm->state), "vcpus",
                          (json_int_t)vm->spec.vcpus, "memory_mib", (json_int_t)vm->spec.memory_mib,
                          "disk_mib", (json_int_t)vm->spec.disk_mib, "nat", vm->spec.nat,
                          "created_at", bg_time_format(vm->created_at, created), "updated_at",
                          bg_time_format(vm->updated_at, updated));

    /* json_object_set_new steals each new value */
    json_object_set_new(j, "auto_remove", json_boolean(vm->spec.auto_remove));
    json_object_set_new(j, "vmm", vm->vmm[0] ? json_string(vm->vmm) : json_null());
    json_object_set_new(j, "error", vm->error[0] ? json_string(vm->error) : json_null());
    json_object_set_new(j, "started_at",
                        vm->started_at > 0 ? json_string(bg_time_format(vm->started_at, started))
                                           : json_null());
    return j;
}
