/* SPDX-License-Identifier: MIT */
/* Files out of a running VM: the guest's own tar archives a file or directory, and its
 * output is read in pieces as the client takes them, under a stall deadline and the cancel. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"
#include "files/guest.h"
#include "files/path.h"
#include "guest/agentconn.h"

/* One archive on its way out of a guest. */
struct bg_files_get;

/* Whether path exists in the guest of conn (a dangling symlink does). Returns 0 when it does;
 * BG_ERR(BG_PROBLEM_PATH_NOT_FOUND) when it does not (err says so); the errors of
 * bg_files_guest_run. */
int bg_files_get_check(struct bg_agent_conn *conn, const struct bg_files_path *path,
                       const struct bg_files_cancel *cancel, struct bg_error *err);

/* Check path (bg_files_get_check), then start `tar -c -f - -C PARENT BASE` in the guest of
 * conn (borrowed for the transfer's life): the archive holds path's last component as its
 * top entry, a directory with everything below it, symlinks as links. Returns 0 and *ret
 * (free with bg_files_get_free), or the errors of bg_files_get_check and bg_agent_exec. */
int bg_files_get_begin(struct bg_agent_conn *conn, const struct bg_files_path *path,
                       const struct bg_files_opts *opts, struct bg_files_get **ret,
                       struct bg_error *err);

/* The next bytes of the archive into buf (up to len), waiting for the guest. Returns the
 * count (> 0); 0 once the archive is complete and the tar ended well;
 * BG_ERR(BG_PROBLEM_FILES_FAILED) when it failed (err holds its message: the archive is cut
 * short); -ECANCELED (the cancel; the tar is killed); -ETIMEDOUT when the guest sent nothing
 * for stall_ms (killed); -ECONNRESET when the VM went away. After a failure every call fails
 * the same way. */
ssize_t bg_files_get_read(struct bg_files_get *g, void *buf, size_t len, struct bg_error *err);

/* Archive bytes read so far. */
uint64_t bg_files_get_bytes(const struct bg_files_get *g);

/* Free g (accepts NULL); a tar still running is killed (the agent's CLOSE). */
void bg_files_get_free(struct bg_files_get *g);
