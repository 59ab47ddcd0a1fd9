/* SPDX-License-Identifier: MIT */
/* The upgraded exec stream: after "101 Switching Protocols" the client socket carries agent
 * frames on channel 1, and two threads proxy them to and from an agent session with credit
 * flow control end to end. */
#pragma once

#include "banger/exec.h"
#include "exec/registry.h"
#include "guest/agentconn.h"

struct bg_exec_stream;

/* The channel every frame of an upgraded exec stream uses. */
#define BG_EXEC_STREAM_CHANNEL 1

/* A VM's agent connection on loan, and how to give it back. */
struct bg_exec_conn_lease {
    struct bg_agent_conn *conn; /* borrowed from the VM runtime */
    /* gives conn back (called once, when the stream ends); cls is the handler's */
    void (*release)(void *cls, struct bg_agent_conn *conn);
    void *cls;
};

/* A stream for request req (taken: the stream owns it even on failure) of exec id (in
 * registry reg, borrowed: it must outlive the stream) in VM vm, on the connection of lease
 * (copied; the stream releases it when it ends, also when it never ran). */
struct bg_exec_stream *bg_exec_stream_new(struct bg_exec_registry *reg, const char *vm,
                                          const char *id, const struct bg_exec_conn_lease *lease,
                                          struct bg_exec_request *req);

/* The bg_http_upgrade_fn: start the command, proxy until the command's EXIT (or ERROR) was
 * sent as the last frame or the client went away (the command is then killed), record the
 * outcome in the exec registry, then free the stream. */
void bg_exec_stream_run(void *stream, int fd, const char *extra, size_t extra_len);

/* Free a stream that never ran (the client left before the upgrade); records the exec as
 * ended without status. */
void bg_exec_stream_free(void *stream);
