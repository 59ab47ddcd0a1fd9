/* SPDX-License-Identifier: MIT */
/* The root helper's wire format, shared by bangerd (the client) and bangerd-root (the server):
 * one JSON object per SOCK_SEQPACKET message, a named operation with typed members, decoded
 * strictly (unknown, missing, mistyped or over-long members are refused). The codec checks
 * shape and size only; what the values may be (names, signals, pids, addresses) is the
 * helper's own validation (helper/validate.c), which trusts nothing the daemon sends. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "banger/macro.h"
#include "banger/validate.h"

#define BG_HELPER_PROTO_VERSION 1
#define BG_HELPER_MSG_MAX (128 * 1024) /* bytes of one message, either way */
#define BG_HELPER_GUESTS_MAX 512       /* entries of nat_apply "guests" */
#define BG_HELPER_VMS_MAX 512          /* entries of reconcile "vms" */
#define BG_HELPER_WORD_MAX 15          /* bytes of a short word: vmm, signal, an interface */
#define BG_HELPER_ADDR_MAX 18          /* bytes of "255.255.255.255/32" */
#define BG_HELPER_FILE_MAX 255         /* bytes of a file name inside an image's directory */
#define BG_HELPER_TAP_PREFIX "bgt"     /* every tap banger makes: bgt + 12 hex digits */
#define BG_HELPER_TAP_LEN 15           /* IFNAMSIZ less the terminator */

/* The operations, in wire order; their wire names are bg_helper_op_name(). */
enum bg_helper_op {
    BG_HELPER_OP_HELLO,         /* {} -> version, owner uid, bridge, address */
    BG_HELPER_OP_BRIDGE_ENSURE, /* {} -> bridge, address */
    BG_HELPER_OP_TAP_CREATE,    /* {vm} -> tap */
    BG_HELPER_OP_TAP_DELETE,    /* {vm} -> {} */
    BG_HELPER_OP_NAT_APPLY,     /* {guests: [{vm, address, nat}]} -> {} */
    BG_HELPER_OP_VMM_LAUNCH,    /* {vm, vmm, [image, kernel, initrd, rootfs, workdisk]} ->
                                 * pid, start_time, and a pidfd (SCM_RIGHTS) */
    BG_HELPER_OP_VMM_SIGNAL,    /* {pid, start_time, signal} -> {} */
    BG_HELPER_OP_VMM_KILL,      /* {pid, start_time} -> exited */
    BG_HELPER_OP_RECONCILE,     /* {vms: [name]} -> removed, killed */
    BG_HELPER_OP_TEARDOWN,      /* {} -> {} */
    BG_HELPER_OP_COUNT,
};

/* One guest of nat_apply: its leased address and whether it may reach outside. */
struct bg_helper_guest {
    char vm[BG_NAME_MAX + 1];             /* the VM's name */
    char address[BG_HELPER_ADDR_MAX + 1]; /* dotted IPv4, no prefix */
    bool nat;                             /* masqueraded to the outside */
};

/* A decoded request. Which members mean something depends on op (see enum bg_helper_op);
 * the rest are zero. Owned; release with bg_helper_request_done. */
struct bg_helper_request {
    enum bg_helper_op op;
    char vm[BG_NAME_MAX + 1];            /* tap_create, tap_delete, vmm_launch */
    char vmm[BG_HELPER_WORD_MAX + 1];    /* vmm_launch: "firecracker" */
    char image[BG_NAME_MAX + 1];         /* vmm_launch (jailer): the image's name, "" */
    char kernel[BG_HELPER_FILE_MAX + 1]; /* vmm_launch (jailer): file in the image dir */
    char initrd[BG_HELPER_FILE_MAX + 1]; /* vmm_launch (jailer): file, "" for none */
    char rootfs[BG_HELPER_FILE_MAX + 1]; /* vmm_launch (jailer): file, "" for none */
    bool workdisk;                       /* vmm_launch (jailer): the VM has a work disk */
    int64_t pid;                         /* vmm_signal, vmm_kill: 0..INT32_MAX */
    uint64_t start_time;                 /* vmm_signal, vmm_kill: /proc stat field 22 */
    char signal[BG_HELPER_WORD_MAX + 1]; /* vmm_signal: a name such as "TERM" */
    struct bg_helper_guest *guests;      /* nat_apply: n_guests entries */
    size_t n_guests;                     /* 0..BG_HELPER_GUESTS_MAX */
    char (*vms)[BG_NAME_MAX + 1];        /* reconcile: n_vms names */
    size_t n_vms;                        /* 0..BG_HELPER_VMS_MAX */
};

/* What the helper answers. code 0 is success with the op's results; otherwise code is a
 * negative errno and message says why. */
struct bg_helper_reply {
    int code;                             /* 0, or -errno (-1..-4095) */
    char message[BG_ERROR_MSG_MAX];       /* failure: the helper's reason */
    uint32_t version;                     /* hello: BG_HELPER_PROTO_VERSION */
    uint32_t owner_uid;                   /* hello: the uid the helper serves */
    char bridge[BG_HELPER_WORD_MAX + 1];  /* hello, bridge_ensure */
    char address[BG_HELPER_ADDR_MAX + 1]; /* hello, bridge_ensure: "10.77.0.1/24" */
    char tap[BG_HELPER_WORD_MAX + 1];     /* tap_create */
    int64_t pid;                          /* vmm_launch */
    uint64_t start_time;                  /* vmm_launch */
    bool exited;                          /* vmm_kill: the process is gone */
    uint32_t removed;                     /* reconcile: taps removed */
    uint32_t killed;                      /* reconcile: VMMs killed */
};

/* The wire name of op ("tap_create"), or NULL when out of range. */
BG_PUBLIC const char *bg_helper_op_name(enum bg_helper_op op);

/* Decode one request message (len bytes, not NUL-terminated). -EINVAL with err naming the
 * member: not JSON, not an object, no or unknown "op", a member the op does not take or
 * lacks, a wrong type, a string with a NUL or over its cap, a number out of range, a list over
 * its cap; -EMSGSIZE over BG_HELPER_MSG_MAX. On success *ret is the caller's
 * (bg_helper_request_done). */
BG_PUBLIC int bg_helper_request_decode(const void *msg, size_t len, struct bg_helper_request *ret,
                                       struct bg_error *err);

/* Encode r as a request message (*ret: new NUL-terminated string, *ret_len its length). The
 * result is decoded again, so what the helper's decoder refuses is refused here (-EINVAL with
 * the same message, -EMSGSIZE over the cap). Only reads r. */
BG_PUBLIC int bg_helper_request_encode(const struct bg_helper_request *r, char **ret,
                                       size_t *ret_len, struct bg_error *err);

/* Free what r owns and zero it; accepts a zeroed or half-built request. */
BG_PUBLIC void bg_helper_request_done(struct bg_helper_request *r);

/* Encode the reply to a request of op: on success only op's results, on failure code and
 * message. *ret is a new string of *ret_len bytes, never over BG_HELPER_MSG_MAX. */
BG_PUBLIC void bg_helper_reply_encode(enum bg_helper_op op, const struct bg_helper_reply *r,
                                      char **ret, size_t *ret_len);

/* Decode the reply to a request of op, as strictly as requests. -EINVAL with err on a
 * malformed reply; a well-formed failure is 0 with ret->code < 0. */
BG_PUBLIC int bg_helper_reply_decode(enum bg_helper_op op, const void *msg, size_t len,
                                     struct bg_helper_reply *ret, struct bg_error *err);

/* The tap of VM name: BG_HELPER_TAP_PREFIX and 12 hex digits of its FNV-1a hash, into buf
 * (at least BG_HELPER_TAP_LEN + 1 bytes). Both ends derive it; the helper takes only names. */
BG_PUBLIC void bg_helper_tap_name(const char *vm, char *buf, size_t len);
