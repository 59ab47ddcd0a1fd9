/* SPDX-License-Identifier: MIT */
/* The VM resource: its wire codec, limits, defaults and states. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/problem.h"
#include "banger/validate.h"

#define BG_VCPUS_MIN 1
#define BG_VCPUS_MAX 32
#define BG_MEMORY_MIB_MIN 128
#define BG_MEMORY_MIB_MAX 65536
#define BG_DISK_MIB_MIN 512
#define BG_DISK_MIB_MAX 1048576
/* Bytes of a VM's last error (with the console tail that explains it), NUL included. */
#define BG_VM_ERROR_MAX 2048
/* Bytes of a VMM name ("qemu", "firecracker"), NUL included. */
#define BG_VMM_NAME_MAX 16

enum bg_vm_state {
    BG_VM_STATE_CREATED,
    BG_VM_STATE_STARTING,
    BG_VM_STATE_RUNNING,
    BG_VM_STATE_STOPPING,
    BG_VM_STATE_STOPPED,
    BG_VM_STATE_FAILED,
    BG_VM_STATE_COUNT_,
};

/* Values used when a create request leaves a field out. */
struct bg_vm_defaults {
    const char *image;   /* the image of a request that names none; NULL: "image" required */
    uint32_t vcpus;      /* BG_VCPUS_MIN..BG_VCPUS_MAX */
    uint32_t memory_mib; /* BG_MEMORY_MIB_MIN..BG_MEMORY_MIB_MAX */
    uint64_t disk_mib;   /* BG_DISK_MIB_MIN..BG_DISK_MIB_MAX */
};

/* What a user asks for: a validated create request with defaults filled in. */
struct bg_vm_spec {
    char name[BG_NAME_MAX + 1];  /* DNS label, unique */
    char image[BG_NAME_MAX + 1]; /* image name */
    uint32_t vcpus;              /* virtual CPUs */
    uint32_t memory_mib;         /* guest memory in MiB */
    uint64_t disk_mib;           /* writable overlay size in MiB */
    bool nat;                    /* outbound NAT for the guest */
    bool auto_remove;            /* deleted by the daemon once the HTTP connection that made it
                                  * closes (set at create only) */
};

/* A VM record as stored and served. */
struct bg_vm {
    struct bg_vm_spec spec;      /* configuration */
    enum bg_vm_state state;      /* lifecycle state */
    int64_t created_at;          /* seconds since the epoch */
    int64_t updated_at;          /* seconds since the epoch */
    char vmm[BG_VMM_NAME_MAX];   /* VMM of the last start ("qemu"), "" before any start */
    char error[BG_VM_ERROR_MAX]; /* why the last start or run failed, "" when none */
    int64_t started_at;          /* seconds since the epoch of the last start, 0 when none */
};

/* A merge-patch of the mutable fields: has_* says which are present. */
struct bg_vm_patch {
    bool has_vcpus, has_memory_mib, has_disk_mib, has_nat;
    uint32_t vcpus;
    uint32_t memory_mib;
    uint64_t disk_mib;
    bool nat;
};

/* "created", "running", ... and back. parse returns 0 or -EINVAL. */
BG_PUBLIC const char *bg_vm_state_name(enum bg_vm_state s);
BG_PUBLIC int bg_vm_state_parse(const char *s, enum bg_vm_state *ret);

/* Decode a POST /v1/vms body into *ret, filling absent fields from def. Refuses unknown
 * members, wrong types and values outside the limits. Returns 0 or -EINVAL with f and err
 * naming the field. */
BG_PUBLIC int bg_vm_spec_decode(const json_t *body, const struct bg_vm_defaults *def,
                                struct bg_vm_spec *ret, struct bg_field_error *f,
                                struct bg_error *err);

/* Decode a PATCH body. "name", "image" and "auto_remove" are refused as immutable. */
BG_PUBLIC int bg_vm_patch_decode(const json_t *body, struct bg_vm_patch *ret,
                                 struct bg_field_error *f, struct bg_error *err);

/* Apply patch to vm in place; the overlay disk may only grow. Returns 0 or -EINVAL. */
BG_PUBLIC int bg_vm_patch_apply(const struct bg_vm_patch *patch, struct bg_vm *vm,
                                struct bg_field_error *f, struct bg_error *err);

/* The wire form of vm (new reference): vmm, error and started_at are null when unset. */
BG_PUBLIC json_t *bg_vm_to_json(const struct bg_vm *vm);
