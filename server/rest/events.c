/* SPDX-License-Identifier: MIT */
/* GET /v1/events: newline-delimited JSON, replayed from ?since=SEQ, then live. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/timefmt.h"
#include "rest/daemon.h"
#include "rest/handlers.h"

#define EVENTS_BATCH 256
/* A newline this often keeps idle streams alive through proxies. */
#define HEARTBEAT_MS 15000
/* How often a quiet stream looks whether its client hung up, so a vanished client does not
 * hold a connection and a thread until the next heartbeat. */
#define GONE_CHECK_MS 500

struct stream {
    struct bg_daemon *d;
    struct MHD_Connection *conn; /* the client's connection, for noticing its hang-up */
    int64_t after;               /* last seq sent */
    char *buf;                   /* formatted lines not yet handed to MHD */
    size_t len, off;
};

static void stream_free(void *p)
{
    struct stream *st = p;
    free(st->buf);
    free(st);
}

static void append(struct stream *st, const char *s, size_t n)
{
    st->buf = bg_realloc(st->buf, st->len + n);
    memcpy(st->buf + st->len, s, n);
    st->len += n;
}

/* Format the events after st->after into st->buf. Returns how many, or <0. */
static int fill(struct stream *st)
{
    struct bg_event *evs;
    struct bg_error err;
    size_t n;

    if (bg_store_event_list(st->d->store, st->after, EVENTS_BATCH, &evs, &n, &err) < 0) {
        bg_log_error("stream events: %s", err.msg);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char head[320], t[BG_TIME_STR_MAX];
        /* type and subject are banger's own names: no escaping needed. */
        int h = snprintf(head, sizeof(head),
                         "{\"seq\":%" PRId64 ",\"time\":\"%s\",\"type\":\"%s\",\"subject\":\"%s\","
                         "\"data\":",
                         evs[i].seq, bg_time_format(evs[i].time, t), evs[i].type, evs[i].subject);
        append(st, head, (size_t)h);
        append(st, evs[i].data, strlen(evs[i].data));
        append(st, "}\n", 2);
        st->after = evs[i].seq;
    }
    bg_store_events_free(evs, n);
    return (int)n;
}

/* Wait for a new event in slices, looking between them whether the client hung up. Returns 0
 * on an event or the hub closing, 1 when the heartbeat is due, -1 when the client is gone. */
static int wait_quiet(struct stream *st)
{
    int64_t heartbeat = bg_now_ms() + HEARTBEAT_MS;

    for (;;) {
        int64_t now = bg_now_ms();
        int64_t until = now + GONE_CHECK_MS < heartbeat ? now + GONE_CHECK_MS : heartbeat;
        bool closed;
        int64_t latest = bg_events_wait(st->d->events, st->after, until, &closed);
        if (closed || latest > st->after)
            return 0;
        if (bg_http_connection_gone(st->conn))
            return -1;
        if (bg_now_ms() >= heartbeat)
            return 1;
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *st = cls;
    (void)pos;

    while (st->off == st->len) {
        st->off = st->len = 0;
        if (bg_events_closed(st->d->events))
            return MHD_CONTENT_READER_END_OF_STREAM;
        int n = fill(st);
        if (n < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (n > 0)
            break;
        int r = wait_quiet(st);
        if (r < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (r > 0)
            append(st, "\n", 1);
    }
    size_t n = st->len - st->off < max ? st->len - st->off : max;
    memcpy(buf, st->buf + st->off, n);
    st->off += n;
    return (ssize_t)n;
}

/* Where the stream starts: ?since=SEQ, else now. Replies and returns <0 on refusal. */
static int start_seq(struct bg_http_request *req, int64_t *ret, int *ret_mhd)
{
    const char *since = bg_http_query(req, "since");
    struct bg_error err;
    int64_t oldest, latest;
    uint64_t v;

    if (bg_store_event_bounds(bg_rest_daemon(req)->store, &oldest, &latest, &err) < 0) {
        *ret_mhd = bg_http_reply_internal(req, &err);
        return -1;
    }
    if (!since) {
        *ret = latest;
        return 0;
    }
    if (bg_parse_u64(since, 0, INT64_MAX, &v, &err) < 0) {
        *ret_mhd = bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                         "since must be an event sequence number: %s", err.msg);
        return -1;
    }
    /* a seq past the latest would skip the events between it and the latest when they come */
    if ((int64_t)v > latest) {
        *ret_mhd =
            bg_http_reply_problem(req, BG_PROBLEM_INVALID_QUERY, NULL,
                                  "since %" PRIu64 " is after the latest event (%" PRId64
                                  "); follow /v1/events with since=%" PRId64 " or without since",
                                  v, latest, latest);
        return -1;
    }
    if (oldest > 0 && (int64_t)v < oldest - 1) {
        *ret_mhd = bg_http_reply_problem_ext(
            req, BG_PROBLEM_EVENTS_GONE, json_pack("{s:I}", "oldest_seq", (json_int_t)oldest),
            "events after %" PRIu64 " are no longer kept (the oldest kept is %" PRId64
            "); re-read the state with GET /v1/vms and /v1/images, then follow "
            "/v1/events without since",
            v, oldest);
        return -1;
    }
    *ret = (int64_t)v;
    return 0;
}

int bg_handle_events_stream(struct bg_http_request *req)
{
    int64_t after;
    int mhd;

    if (start_seq(req, &after, &mhd) < 0)
        return mhd;
    struct stream *st = bg_calloc(1, sizeof(*st));
    st->d = bg_rest_daemon(req);
    st->conn = req->conn;
    st->after = after;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_free);
    (void)MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
    return bg_http_reply_response(req, MHD_HTTP_OK, resp);
}
