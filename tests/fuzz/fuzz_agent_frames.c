/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for agent frames, as both ends of the agent protocol read them: the input
 * as a byte stream through the header decoder with each payload through the JSON decoder of
 * its type; the whole input through every payload decoder; and the input as what a guest
 * sends, through the daemon's own dispatch (guest/agentconn.c) with three sessions waiting on
 * channels 1 (pipes), 2 (a PTY) and 3 (a TCP channel). Every refusal's message must be
 * well-formed UTF-8 that JSON takes, since it goes into logs and problem answers. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"
#include "banger/alloc.h"
#include "banger/sshkey.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"
#include "guest/agentconn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Text that may go into a log line and a JSON answer. */
static void check_text(const char *s)
{
    CHECK(bg_utf8_valid(s, strlen(s)));
    json_t *j = json_string(s);
    CHECK(j != NULL);
    json_decref(j);
}

static void check_refusal(int r, const struct bg_error *err)
{
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
    check_text(err->msg);
}

/* A decoded EXEC is within its limits and survives an encode/decode round trip. */
static void fuzz_exec(const uint8_t *p, size_t len)
{
    struct bg_agentreq_exec req, again;
    struct bg_error err;
    char *json = NULL;
    size_t json_len = 0;
    int r = bg_agentreq_exec_decode(p, len, &req, &err);

    if (r < 0)
        return check_refusal(r, &err);
    CHECK(req.argc >= 1 && req.argc <= BG_AGENT_ARGV_MAX && req.argv[req.argc] == NULL);
    CHECK(req.argv[0][0] != '\0');
    CHECK(req.envc <= BG_AGENT_ENV_MAX && req.env[req.envc] == NULL);
    for (size_t i = 0; i < req.envc; i++)
        CHECK(strchr(req.env[i], '=') > req.env[i]);
    CHECK(!req.cwd || (req.cwd[0] == '/' && strlen(req.cwd) <= BG_AGENT_CWD_MAX));
    r = bg_agentreq_exec_encode(&req, &json, &json_len, &err);
    /* re-encoding may grow past the payload cap (escapes), never fail otherwise */
    CHECK(r == 0 || r == -EMSGSIZE);
    if (r < 0)
        check_text(err.msg);
    if (r == 0) {
        CHECK(bg_agentreq_exec_decode(json, json_len, &again, &err) == 0);
        CHECK(again.argc == req.argc && again.envc == req.envc);
        CHECK(again.tty == req.tty && again.attach_stdin == req.attach_stdin);
        CHECK(again.rows == req.rows && again.cols == req.cols);
        CHECK((!again.cwd && !req.cwd) || !strcmp(again.cwd, req.cwd));
        for (size_t i = 0; i < req.argc; i++)
            CHECK(!strcmp(again.argv[i], req.argv[i]));
        bg_agentreq_exec_done(&again);
        free(json);
    }
    bg_agentreq_exec_done(&req);
}

/* A decoded CONNECT is within its limits and survives an encode/decode round trip. */
static void fuzz_connect(const uint8_t *p, size_t len)
{
    struct bg_agentreq_connect req, again;
    struct bg_error err;
    char *json = NULL;
    size_t json_len = 0;
    int r = bg_agentreq_connect_decode(p, len, &req, &err);

    if (r < 0)
        return check_refusal(r, &err);
    CHECK(req.port >= 1);
    CHECK(!req.authorized_key ||
          bg_sshkey_validate(req.authorized_key, strlen(req.authorized_key), NULL) == 0);
    CHECK(bg_agentreq_connect_encode(&req, &json, &json_len, &err) == 0);
    CHECK(bg_agentreq_connect_decode(json, json_len, &again, &err) == 0);
    CHECK(again.port == req.port && again.host_keys == req.host_keys);
    CHECK((!again.authorized_key && !req.authorized_key) ||
          !strcmp(again.authorized_key, req.authorized_key));
    bg_agentreq_connect_done(&again);
    bg_agentreq_connect_done(&req);
    free(json);
}

/* What the guest answers CONNECT with: only keys that pass the strict check. */
static void fuzz_connected(const uint8_t *p, size_t len)
{
    struct bg_error err;
    char **keys = NULL;
    int r = bg_agentreq_connected_decode(p, len, &keys, &err);

    if (r == 0) {
        size_t n = 0;
        for (; keys[n]; n++)
            CHECK(bg_sshkey_validate(keys[n], strlen(keys[n]), NULL) == 0);
        CHECK(n <= BG_AGENT_HOST_KEYS_MAX);
        bg_strv_free(keys);
    } else {
        check_refusal(r, &err);
    }
    r = bg_agentreq_closed_decode(p, len, &err);
    if (r < 0)
        check_refusal(r, &err);
}

static void fuzz_hello(const uint8_t *p, size_t len)
{
    struct bg_agentreq_hello hello;
    struct bg_error err;
    int r = bg_agentreq_hello_decode(p, len, &hello, &err);

    if (r < 0)
        return check_refusal(r, &err);
    CHECK(hello.version >= 1 && strlen(hello.agent) <= BG_AGENT_NAME_MAX);
    check_text(hello.agent);
}

static void fuzz_started(const uint8_t *p, size_t len)
{
    struct bg_error err;
    int pid, r = bg_agentreq_started_decode(p, len, &pid, &err);

    if (r < 0)
        return check_refusal(r, &err);
    CHECK(pid >= 1);
}

static void fuzz_exit(const uint8_t *p, size_t len)
{
    struct bg_error err;
    int code, sig, r = bg_agentreq_exit_decode(p, len, &code, &sig, &err);

    if (r < 0)
        return check_refusal(r, &err);
    CHECK((code == -1 && sig >= 1 && sig <= BG_AGENT_SIGNAL_MAX) ||
          (sig == 0 && code >= 0 && code <= 255));
}

/* The message is cut to the buffers the daemon uses: its own (bg_error's) and a tiny one. */
static void fuzz_error(const uint8_t *p, size_t len)
{
    static const size_t sizes[] = {BG_ERROR_MSG_MAX, 7};

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        char msg[BG_ERROR_MSG_MAX];
        struct bg_error err;
        int r = bg_agentreq_error_decode(p, len, msg, sizes[k], &err);
        if (r < 0)
            return check_refusal(r, &err);
        CHECK(strlen(msg) < sizes[k]);
        for (const char *c = msg; *c; c++)
            CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        check_text(msg);
    }
}

static void fuzz_payload(const struct bg_agent_header *h, const uint8_t *p)
{
    switch (h->type) {
    case BG_AGENT_EXEC:
        return fuzz_exec(p, h->length);
    case BG_AGENT_CONNECT:
        return fuzz_connect(p, h->length);
    case BG_AGENT_HELLO:
        return fuzz_hello(p, h->length);
    case BG_AGENT_STARTED:
        fuzz_connected(p, h->length);
        return fuzz_started(p, h->length);
    case BG_AGENT_EXIT:
        return fuzz_exit(p, h->length);
    case BG_AGENT_ERROR:
        return fuzz_error(p, h->length);
    default:
        return;
    }
}

/* The input as a stream of frames, the way the agent's read loop takes them. */
static void fuzz_stream(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (size - off >= BG_AGENT_HEADER_SIZE) {
        struct bg_agent_header h;
        struct bg_error err;
        uint8_t again[BG_AGENT_HEADER_SIZE];
        int r = bg_agent_header_decode(data + off, &h, &err);
        if (r < 0) {
            /* a framing error ends the stream, as it ends the connection */
            CHECK(r == -EBADMSG || r == -EMSGSIZE);
            CHECK(err.code == r && err.msg[0] != '\0');
            check_text(err.msg);
            return;
        }
        CHECK(h.length <= BG_AGENT_PAYLOAD_MAX && h.channel <= BG_AGENT_CHANNEL_MAX);
        bg_agent_header_encode(&h, again);
        CHECK(!memcmp(again, data + off, BG_AGENT_HEADER_SIZE));
        off += BG_AGENT_HEADER_SIZE;
        if (size - off < h.length)
            return; /* a partial frame: the reader waits for more */
        fuzz_payload(&h, data + off);
        off += h.length;
    }
}

/* Whatever the session was left with: output within the window, well-formed messages. */
static void drain_session(struct bg_agent_session *s)
{
    uint8_t buf[4096];
    struct bg_error err;
    int stream, code, sig;
    ssize_t n;

    CHECK(bg_agent_session_buffered(s) <= 2 * (size_t)BG_AGENT_WINDOW_INITIAL);
    /* a deadline of now: take what is there, never wait */
    while ((n = bg_agent_session_read(s, &stream, buf, sizeof(buf), bg_now_ms(), &err)) > 0)
        CHECK(stream == 1 || stream == 2);
    if (n < 0)
        check_text(err.msg);
    if (bg_agent_session_wait(s, bg_now_ms(), &code, &sig, &err) < 0)
        check_text(err.msg);
    else
        CHECK((code == -1 && sig >= 1) || (sig == 0 && code >= 0 && code <= 255));
}

/* The input as what a guest sends to the daemon. */
static void fuzz_dispatch(const uint8_t *data, size_t size)
{
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC); /* CLOSE and CREDIT go nowhere */
    struct bg_agent_conn *c = bg_agent_conn_new_testing(fd);
    struct bg_agent_session *pipes = NULL, *pty = NULL, *tcp = NULL;
    struct bg_error err;

    CHECK(fd >= 0);
    CHECK(bg_agent_session_new_testing(c, false, &pipes, &err) == 0);
    CHECK(bg_agent_session_new_testing(c, true, &pty, &err) == 0);
    CHECK(bg_agent_tcp_new_testing(c, &tcp, &err) == 0);
    /* in two pieces, so a frame split between two reads is handled as one */
    size_t half = size / 2;
    int r = bg_agent_conn_feed_testing(c, data, half, &err);
    if (r == 0)
        r = bg_agent_conn_feed_testing(c, data + half, size - half, &err);
    if (r < 0) {
        CHECK(err.code == r && err.msg[0] != '\0');
        check_text(err.msg);
        CHECK(bg_agent_conn_dead(c));
    }
    drain_session(pipes);
    drain_session(pty);
    drain_session(tcp);
    bg_agent_session_free(pipes);
    bg_agent_session_free(pty);
    bg_agent_session_free(tcp);
    bg_agent_conn_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_stream(data, size);
    if (size <= BG_AGENT_PAYLOAD_MAX) {
        fuzz_exec(data, size);
        fuzz_connect(data, size);
        fuzz_connected(data, size);
        fuzz_hello(data, size);
        fuzz_started(data, size);
        fuzz_exit(data, size);
        fuzz_error(data, size);
    }
    fuzz_dispatch(data, size);
    return 0;
}
