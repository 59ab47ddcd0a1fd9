/* SPDX-License-Identifier: MIT */
/* /v1/vms/{name}/files: files into a running VM (PUT, a streamed tar archive unpacked by the
 * guest's tar) and out of it (GET, the guest's tar streamed back). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "files/get.h"
#include "files/path.h"
#include "files/put.h"
#include "rest/daemon.h"
#include "rest/errors.h"
#include "rest/handlers.h"
#include "vm/runtime.h"

#define TAR_TYPE "application/x-tar"
#define READ_BLOCK (64 * 1024) /* what the GET reader hands libmicrohttpd at once */

/* A transfer's cancel: its client went away, or bangerd is stopping. */
struct watch {
    struct MHD_Connection *conn;
    struct bg_daemon *d;
};

static bool transfer_cancelled(void *cls)
{
    struct watch *w = cls;

    return bg_http_connection_gone(w->conn) || bg_events_closed(w->d->events);
}

/* ?path=, checked; replies why not and returns -1 when it is missing or not a path. */
static int query_path(struct bg_http_request *req, bool need_base, struct bg_files_path *ret,
                      int *ret_mhd)
{
    const char *raw = bg_http_query(req, "path");
    struct bg_error err;

    if (!raw) {
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                         "give the guest path as ?path=/ABSOLUTE/PATH");
        return -1;
    }
    if (bg_files_path_parse(raw, need_base, ret, &err) < 0) {
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* Borrow the running VM's agent connection, or reply why not. */
static int acquire(struct bg_http_request *req, struct bg_agent_conn **ret, int *ret_mhd)
{
    struct bg_error err;

    if (bg_vm_agent_acquire(bg_rest_daemon(req)->runtime, req->params[0], ret, &err) == 0)
        return 0;
    *ret_mhd = bg_rest_reply_error(req, &err, BG_REST_VM, BG_PROBLEM_INTERNAL, NULL);
    return -1;
}

static int reply_failure(struct bg_http_request *req, int r, struct bg_error *err)
{
    if (r == -ECONNRESET)
        (void)bg_error_prefix(err, r, "vm '%s' stopped during the transfer", req->params[0]);
    return bg_rest_reply_error(req, err, BG_REST_NONE, BG_PROBLEM_FILES_FAILED, NULL);
}

/* --- PUT: the body into the guest's tar --- */

struct put {
    struct watch watch;
    struct bg_agent_conn *agent;
    struct bg_files_put *p;
    char vm[BG_NAME_MAX + 1];
    int write_r; /* the first failed write, 0 while none */
    struct bg_error write_err;
};

static int put_data(void *cls, const char *buf, size_t len)
{
    struct put *c = cls;
    int r = bg_files_put_write(c->p, buf, len, &c->write_err);

    if (r < 0)
        c->write_r = r;
    return r;
}

static int put_end(void *cls, struct bg_http_request *req)
{
    struct put *c = cls;
    struct bg_files_result res;
    struct bg_error err;
    int r = bg_files_put_finish(c->p, &res, &err);

    /* a write cut short by the tar's own end (-EPIPE) is told by the tar's exit */
    if (r == 0 && c->write_r < 0) {
        r = c->write_r;
        err = c->write_err;
    }
    if (r < 0)
        return reply_failure(req, r, &err);
    bg_log_info("files into vm '%s': %llu files, %llu bytes", c->vm, (unsigned long long)res.files,
                (unsigned long long)res.bytes);
    return bg_http_reply_json(
        req, MHD_HTTP_OK,
        json_pack("{s:I, s:I}", "files", (json_int_t)res.files, "bytes", (json_int_t)res.bytes));
}

static void put_free(void *cls)
{
    struct put *c = cls;

    bg_files_put_free(c->p);
    bg_vm_agent_release(c->watch.d->runtime, c->agent);
    free(c);
}

static const struct bg_http_body_sink put_sink = {put_data, put_end, put_free};

int bg_handle_vms_files_put(struct bg_http_request *req)
{
    struct bg_files_path path;
    struct bg_error err;
    int mhd;

    if (query_path(req, false, &path, &mhd) < 0)
        return mhd;
    if (!bg_http_content_type_is(req, TAR_TYPE))
        return bg_http_reply_problem(req, BG_PROBLEM_UNSUPPORTED_MEDIA_TYPE, NULL,
                                     "send the files as a tar archive with 'Content-Type: " TAR_TYPE
                                     "'");
    struct put *c = bg_calloc(1, sizeof(*c));
    c->watch = (struct watch){.conn = req->conn, .d = bg_rest_daemon(req)};
    snprintf(c->vm, sizeof(c->vm), "%s", req->params[0]);
    if (acquire(req, &c->agent, &mhd) < 0) {
        free(c);
        return mhd;
    }
    struct bg_files_opts opts = {.cancel = {.fn = transfer_cancelled, .cls = &c->watch}};
    int r = bg_files_put_begin(c->agent, path.path, &opts, &c->p, &err);
    if (r < 0) {
        put_free(c);
        return reply_failure(req, r, &err);
    }
    return bg_http_body_stream(req, &put_sink, c);
}

/* --- GET: the guest's tar out --- */

struct get {
    struct watch watch;
    struct bg_agent_conn *agent;
    struct bg_files_get *g;
    char vm[BG_NAME_MAX + 1];
};

static ssize_t get_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct get *c = cls;
    struct bg_error err;
    (void)pos;
    ssize_t n = bg_files_get_read(c->g, buf, max, &err);

    if (n > 0)
        return n;
    if (n == 0) {
        bg_log_info("files out of vm '%s': %llu bytes", c->vm,
                    (unsigned long long)bg_files_get_bytes(c->g));
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    /* the status is out: cutting the stream short (no last chunk) is how the client learns */
    if (n == -ECANCELED)
        bg_log_info("files out of vm '%s': the client went away: %s", c->vm, err.msg);
    else
        bg_log_error("files out of vm '%s': %s; the archive was cut short", c->vm, err.msg);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void get_free(void *cls)
{
    struct get *c = cls;

    bg_files_get_free(c->g);
    bg_vm_agent_release(c->watch.d->runtime, c->agent);
    free(c);
}

/* HEAD: the same status and headers, without starting the guest's tar. */
static int head_reply(struct bg_http_request *req, struct bg_agent_conn *agent,
                      const struct bg_files_path *path)
{
    struct bg_files_cancel cancel = {0};
    struct bg_error err;
    int r = bg_files_get_check(agent, path, &cancel, &err);

    bg_vm_agent_release(bg_rest_daemon(req)->runtime, agent);
    if (r < 0)
        return reply_failure(req, r, &err);
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    (void)MHD_add_response_header(resp, "Content-Type", TAR_TYPE);
    return bg_http_reply_response(req, MHD_HTTP_OK, resp);
}

int bg_handle_vms_files_get(struct bg_http_request *req)
{
    struct bg_files_path path;
    struct bg_error err;
    int mhd;

    if (query_path(req, true, &path, &mhd) < 0)
        return mhd;
    struct get *c = bg_calloc(1, sizeof(*c));
    c->watch = (struct watch){.conn = req->conn, .d = bg_rest_daemon(req)};
    snprintf(c->vm, sizeof(c->vm), "%s", req->params[0]);
    if (acquire(req, &c->agent, &mhd) < 0) {
        free(c);
        return mhd;
    }
    if (!strcmp(req->method, "HEAD")) {
        struct bg_agent_conn *agent = c->agent;
        free(c);
        return head_reply(req, agent, &path);
    }
    struct bg_files_opts opts = {.cancel = {.fn = transfer_cancelled, .cls = &c->watch}};
    int r = bg_files_get_begin(c->agent, &path, &opts, &c->g, &err);
    if (r < 0) {
        get_free(c);
        return reply_failure(req, r, &err);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_BLOCK, get_read, c, get_free);
    (void)MHD_add_response_header(resp, "Content-Type", TAR_TYPE);
    return bg_http_reply_response(req, MHD_HTTP_OK, resp);
}
