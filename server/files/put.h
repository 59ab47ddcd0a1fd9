/* SPDX-License-Identifier: MIT */
/* Files into a running VM: a tar archive, handed over in pieces as it arrives, unpacked by
 * the guest's own tar into a directory, with a watchdog for the deadlines and the cancel. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "banger/error.h"
#include "files/guest.h"
#include "guest/agentconn.h"

/* One archive on its way into a guest. */
struct bg_files_put;

/* What an unpacking did. */
struct bg_files_result {
    uint64_t files; /* members the guest's tar unpacked (files, directories, links), as it
                     * listed them */
    uint64_t bytes; /* archive bytes handed to it */
};

/* `mkdir -p DIR` in the guest of conn (borrowed for the transfer's life), then start `tar -x
 * -o -v -C DIR -f -` there (modes and symlinks as the archive has them, owned by the guest's
 * user) with a watchdog thread that drains its output and, every BG_FILES_POLL_MS, kills it on
 * the cancel, when a write waited stall_ms, or when it did not end finish_ms after its input.
 * dir must be absolute. Returns 0 and *ret (free with bg_files_put_free);
 * BG_ERR(BG_PROBLEM_FILES_FAILED) when mkdir failed (err holds the guest's message); the errors
 * of bg_files_guest_run. */
int bg_files_put_begin(struct bg_agent_conn *conn, const char *dir,
                       const struct bg_files_opts *opts, struct bg_files_put **ret,
                       struct bg_error *err);

/* Hand len bytes of the archive to the guest's tar, waiting while it takes none. Returns 0;
 * -ECANCELED (the cancel said stop: the tar is killed); -EPIPE once the tar has ended or was
 * killed (bg_files_put_finish says why); -ETIMEDOUT; -ECONNRESET when the VM went away. */
int bg_files_put_write(struct bg_files_put *p, const void *buf, size_t len, struct bg_error *err);

/* End the archive and wait for the tar: 0 with *ret when it unpacked everything;
 * BG_ERR(BG_PROBLEM_FILES_FAILED) when it failed (err holds its message: not a tar archive, no
 * room, ...); -ECANCELED, -ETIMEDOUT (stall or finish deadline: it was killed); -ECONNRESET. */
int bg_files_put_finish(struct bg_files_put *p, struct bg_files_result *ret, struct bg_error *err);

/* Free p (accepts NULL); a tar still running is killed first. */
void bg_files_put_free(struct bg_files_put *p);
