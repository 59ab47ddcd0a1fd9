/* SPDX-License-Identifier: MIT */
/* banger-helperctl: sends one message to bangerd-root through bangerd's own client module
 * (server/root/client.c) and prints the reply as one JSON line, for the helper's integration
 * test. The message goes as given, so the test can send what the encoder never would.
 *   banger-helperctl SOCKET MESSAGE [--wait-exit MS]
 * --wait-exit: wait up to MS for the process behind a received pidfd to exit. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger/parse.h"
#include "banger/proc.h"
#include "root/client.h"

static enum bg_helper_op op_of(const char *msg)
{
    json_t *v = json_loads(msg, 0, NULL);
    const char *name = json_string_value(json_object_get(v, "op"));
    enum bg_helper_op op = BG_HELPER_OP_HELLO;

    for (int i = 0; name && i < BG_HELPER_OP_COUNT; i++)
        if (!strcmp(bg_helper_op_name((enum bg_helper_op)i), name))
            op = (enum bg_helper_op)i;
    json_decref(v);
    return op;
}

int main(int argc, char **argv)
{
    struct bg_helper_reply rep = {0};
    struct bg_error err = {0};
    uint64_t wait_ms = 0;
    int fd = -1;

    if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--wait-exit") &&
                       bg_parse_u64(argv[4], 0, 600000, &wait_ms, NULL) == 0)) {
        fprintf(stderr, "usage: banger-helperctl SOCKET MESSAGE [--wait-exit MS]\n");
        return 2;
    }
    struct bg_helper_client *c = bg_helper_client_new(argv[1]);
    int r = bg_helper_call_raw(c, op_of(argv[2]), argv[2], strlen(argv[2]), &rep, &fd, &err);
    bg_helper_client_free(c);
    json_t *out = json_pack("{s:i}", "code", r);
    if (r < 0)
        json_object_set_new(out, "message", json_string(err.msg));
    else
        json_object_update_new(out, json_pack("{s:s,s:s,s:I,s:I,s:b,s:i,s:i,s:b}", "tap", rep.tap,
                                              "bridge", rep.bridge, "pid", (json_int_t)rep.pid,
                                              "start_time", (json_int_t)rep.start_time, "exited",
                                              rep.exited, "removed", (int)rep.removed, "killed",
                                              (int)rep.killed, "pidfd", fd >= 0));
    if (fd >= 0 && wait_ms)
        json_object_set_new(out, "exit_seen",
                            json_boolean(bg_proc_pidfd_wait(fd, (int)wait_ms) == 1));
    char *text = json_dumps(out, JSON_COMPACT);
    puts(text);
    free(text);
    json_decref(out);
    return 0;
}
