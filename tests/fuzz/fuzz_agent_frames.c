/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for agent frames: a byte stream through the header decoder, each payload
 * through the JSON decoder of its type, as both ends of the agent protocol read them. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banger/agentproto.h"
#include "banger/agentreq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* assert() is compiled out in release builds; these invariants must hold in every build. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_refusal(int r, const struct bg_error *err)
{
    CHECK(r == -EINVAL);
    CHECK(err->code == r);
    CHECK(err->msg[0] != '\0');
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

static void fuzz_payload(const struct bg_agent_header *h, const uint8_t *p)
{
    struct bg_agentreq_hello hello;
    struct bg_error err;
    char msg[128];
    int pid, code, sig, r;

    switch (h->type) {
    case BG_AGENT_EXEC:
        return fuzz_exec(p, h->length);
    case BG_AGENT_HELLO:
        if ((r = bg_agentreq_hello_decode(p, h->length, &hello, &err)) < 0)
            return check_refusal(r, &err);
        CHECK(hello.version >= 1 && strlen(hello.agent) <= BG_AGENT_NAME_MAX);
        return;
    case BG_AGENT_STARTED:
        if ((r = bg_agentreq_started_decode(p, h->length, &pid, &err)) < 0)
            return check_refusal(r, &err);
        CHECK(pid >= 1);
        return;
    case BG_AGENT_EXIT:
        if ((r = bg_agentreq_exit_decode(p, h->length, &code, &sig, &err)) < 0)
            return check_refusal(r, &err);
        CHECK((code == -1 && sig >= 1 && sig <= BG_AGENT_SIGNAL_MAX) ||
              (sig == 0 && code >= 0 && code <= 255));
        return;
    case BG_AGENT_ERROR:
        if ((r = bg_agentreq_error_decode(p, h->length, msg, sizeof(msg), &err)) < 0)
            return check_refusal(r, &err);
        for (const char *c = msg; *c; c++)
            CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        return;
    default:
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
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
            return 0;
        }
        CHECK(h.length <= BG_AGENT_PAYLOAD_MAX && h.channel <= BG_AGENT_CHANNEL_MAX);
        bg_agent_header_encode(&h, again);
        CHECK(!memcmp(again, data + off, BG_AGENT_HEADER_SIZE));
        off += BG_AGENT_HEADER_SIZE;
        if (size - off < h.length)
            return 0; /* a partial frame: the reader waits for more */
        fuzz_payload(&h, data + off);
        off += h.length;
    }
    return 0;
}
