/* SPDX-License-Identifier: MIT */
/* bangerd's end of the root helper (bangerd-root) in system mode: one connection per request,
 * the codec of banger/helperproto.h, a pidfd received over SCM_RIGHTS where the helper
 * launched a process (so bangerd watches its exit while only the helper signals it). A
 * refusal of the helper comes back as its -errno with the helper's message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/helperproto.h"

#define BG_HELPER_CALL_MS 15000 /* the longest a request waits for its reply */

struct bg_helper_client;

/* A client of the helper listening on socket_path (copied). Connects nothing yet. */
struct bg_helper_client *bg_helper_client_new(const char *socket_path);
void bg_helper_client_free(struct bg_helper_client *c);

/* Send req (encoded strictly: what the helper would refuse as malformed is refused here) and
 * decode the reply into *ret; a passed fd goes into *ret_fd (the caller's; -1 when none; may
 * be NULL, then it is closed). 0 when the helper did it; its -errno and message when it
 * refused; -ECONNREFUSED/-ENOENT when it is not listening; -ETIMEDOUT. */
int bg_helper_call(struct bg_helper_client *c, const struct bg_helper_request *req,
                   struct bg_helper_reply *ret, int *ret_fd, struct bg_error *err);

/* bg_helper_call with a message as it is (msg, len bytes) for a request of op: for tests
 * that send the helper what the encoder would never produce. */
int bg_helper_call_raw(struct bg_helper_client *c, enum bg_helper_op op, const char *msg,
                       size_t len, struct bg_helper_reply *ret, int *ret_fd, struct bg_error *err);

/* The typed operations. */
int bg_helper_hello(struct bg_helper_client *c, struct bg_helper_reply *ret, struct bg_error *err);
int bg_helper_bridge_ensure(struct bg_helper_client *c, struct bg_error *err);
/* The tap of vm, created and owned by the owner; its name into tap (>= 16 bytes). */
int bg_helper_tap_create(struct bg_helper_client *c, const char *vm, char *tap, size_t len,
                         struct bg_error *err);
int bg_helper_tap_delete(struct bg_helper_client *c, const char *vm, struct bg_error *err);
/* Replace the NAT table's guests with guests (n). */
int bg_helper_nat_apply(struct bg_helper_client *c, const struct bg_helper_guest *guests, size_t n,
                        struct bg_error *err);
/* Launch vm's Firecracker (req: op ignored, vm, vmm, image files for the jailer): its pid,
 * start time and a pidfd (*ret_pidfd, the caller's). */
int bg_helper_vmm_launch(struct bg_helper_client *c, const struct bg_helper_request *req,
                         pid_t *ret_pid, uint64_t *ret_start_time, int *ret_pidfd,
                         struct bg_error *err);
int bg_helper_vmm_signal(struct bg_helper_client *c, pid_t pid, uint64_t start_time,
                         const char *signal, struct bg_error *err);
int bg_helper_vmm_kill(struct bg_helper_client *c, pid_t pid, uint64_t start_time, bool *ret_exited,
                       struct bg_error *err);
/* Tell the helper the VMs that exist (names, n): it deletes the taps, NAT guests and VMMs of
 * every other. *ret_removed taps and *ret_killed VMMs (may be NULL). */
int bg_helper_reconcile(struct bg_helper_client *c, const char *const *names, size_t n,
                        uint32_t *ret_removed, uint32_t *ret_killed, struct bg_error *err);
