/* SPDX-License-Identifier: MIT */
/* Launching, signalling and killing VMMs: only the configured Firecracker binary, with
 * arguments the helper builds, under the jailer where install.toml sets one; every signal
 * through a pidfd of a process that passed bg_hv_vmm_pid. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "banger/error.h"
#include "banger/helperproto.h"
#include "banger/install.h"

/* Launch the Firecracker of validated request r (vm, and for the jailer its image files).
 * Direct: `firecracker --api-sock <run>/api.sock --id VM --log-path <run>/firecracker.log` as
 * the owner, its output in <run>/console.log, <run> = <runtime_dir>/vms/VM (must exist, the
 * owner's, no symlink on the way). Jailer: the jail laid out from the files beneath
 * state_dir, then jailer as root (it drops to the owner). 0 with the pid, its start time and
 * a pidfd (*ret_pidfd, the caller's). */
int bg_hvmm_launch(const struct bg_install *in, const struct bg_helper_request *r, pid_t *ret_pid,
                   uint64_t *ret_start_time, int *ret_pidfd, struct bg_error *err);

/* Send sig through pidfd. */
int bg_hvmm_signal(int pidfd, int sig, struct bg_error *err);

/* SIGKILL through pidfd, then wait (bounded) for the exit. *ret_exited. */
int bg_hvmm_kill(int pidfd, bool *ret_exited, struct bg_error *err);
