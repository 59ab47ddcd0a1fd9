/* SPDX-License-Identifier: MIT */
/* HTTP transfers whose request body or answer the caller streams, one piece at a time, over
 * the daemon's transport (bg_cli_http_setup): nothing is held whole, and each side waits for
 * the other (a body is sent no faster than the daemon takes it, an answer read no faster than
 * the caller takes it). Single-threaded: curl's multi interface runs inside the calls. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "banger/error.h"

#define BG_CLI_XFER_BUF (256u * 1024) /* bytes buffered at most each way */

struct bg_cli_xfer;

/* Start method path ("/v1/vms/web/files?path=%2Froot") at the daemon at socket. With
 * body_type (a media type) the request has a body, sent chunked from bg_cli_xfer_send;
 * without, none. Nothing goes out before the first send, finish or recv. Returns 0 and *ret
 * (free with bg_cli_xfer_free). */
int bg_cli_xfer_start(const char *socket, const char *method, const char *path,
                      const char *body_type, struct bg_cli_xfer **ret, struct bg_error *err);

/* Send len bytes of the body, waiting while BG_CLI_XFER_BUF bytes are on their way. Returns 0;
 * -EPIPE when the daemon answered before taking the whole body (a refusal: bg_cli_xfer_finish
 * says which); the transport errors of bg_cli_http_call. */
int bg_cli_xfer_send(struct bg_cli_xfer *x, const void *buf, size_t len, struct bg_error *err);

/* End the body (abort: cut the transfer off instead, so the daemon never sees a whole
 * archive), then wait for the answer: a 2xx gives 0 and *ret_json (may be NULL for an empty
 * answer; ret_json may be NULL to drop it); a problem answer its detail (codes as
 * bg_cli_http_call); abort gives -ECANCELED. */
int bg_cli_xfer_finish(struct bg_cli_xfer *x, bool abort, json_t **ret_json, struct bg_error *err);

/* The next bytes of a 2xx answer into buf (up to len). Returns the count; 0 at its end; a
 * problem answer's detail (codes as bg_cli_http_call); -EIO when the answer was cut short
 * (the daemon ended it without its last chunk); the transport errors. */
ssize_t bg_cli_xfer_recv(struct bg_cli_xfer *x, void *buf, size_t len, struct bg_error *err);

/* Free x (accepts NULL), dropping a transfer still going. */
void bg_cli_xfer_free(struct bg_cli_xfer *x);
void bg_cli_xfer_freep(struct bg_cli_xfer **x);
