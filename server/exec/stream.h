/* SPDX-License-Identifier: MIT */
/* The upgraded exec stream: after "101 Switching Protocols" the client socket carries agent
 * frames on channel 1, and two threads proxy them to and from an agent session with credit
 * flow control end to end. */
#pragma once

#include "banger/exec.h"
#include "guest/agentconn.h"

struct bg_daemon;
struct bg_exec_stream;

/* The channel every frame of an upgraded exec stream uses. */
#define BG_EXEC_STREAM_CHANNEL 1

/* A stream for request req (taken: the stream owns it even on failure) of exec id in VM vm,
 * on the agent connection conn acquired from the VM runtime (taken: released with
 * bg_vm_agent_release when the stream ends). */
struct bg_exec_stream *bg_exec_stream_new(struct bg_daemon *d, const char *vm, const char *id,
                                          struct bg_agent_conn *conn, struct bg_exec_request *req);

/* The bg_http_upgrade_fn: start the command, proxy until the command's EXIT (or ERROR) was
 * sent as the last frame or the client went away (the command is then killed), record the
 * outcome in the exec registry, then free the stream. */
void bg_exec_stream_run(void *stream, int fd, const char *extra, size_t extra_len);

/* Free a stream that never ran (the client left before the upgrade); records the exec as
 * ended without status. */
void bg_exec_stream_free(void *stream);
