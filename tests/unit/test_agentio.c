/* SPDX-License-Identifier: MIT */
/* Whole writes: every byte arrives, in pieces larger than a pipe holds, and a closed reader
 * is an error code, never a signal. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "banger/agentio.h"
#include "banger/agentproto.h"

#define BIG (256 * 1024) /* more than a pipe's 64 KiB buffer */

/* Write big from a child while this process reads: all bytes, in order. */
static void test_write_all_pipe(void **state)
{
    (void)state;
    int p[2];
    unsigned char *want = malloc(BIG), *got = malloc(BIG);
    size_t have = 0;

    for (size_t i = 0; i < BIG; i++)
        want[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        _exit(bg_write_all(p[1], want, BIG) == 0 ? 0 : 1);
    }
    close(p[1]);
    for (ssize_t n; (n = read(p[0], got + have, BIG - have)) > 0;)
        have += (size_t)n;
    close(p[0]);
    assert_int_equal(have, BIG);
    assert_memory_equal(got, want, BIG);
    free(want);
    free(got);
}

/* A reader that is gone: -EPIPE from the pipe (SIGPIPE ignored, as the CLI and bangerd do),
 * -EPIPE from the socket without ignoring anything (MSG_NOSIGNAL). */
static void test_closed_reader(void **state)
{
    (void)state;
    int p[2], sv[2];
    char byte = 'x';

    assert_int_equal(pipe(p), 0);
    close(p[0]);
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(bg_write_all(p[1], &byte, 1), -EPIPE);
    signal(SIGPIPE, SIG_DFL);
    close(p[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(bg_agentio_send_all(sv[0], &byte, 1), -EPIPE);
    close(sv[0]);
}

/* A frame is its header then its payload, byte for byte. */
static void test_send_frame(void **state)
{
    (void)state;
    int sv[2];
    uint8_t buf[BG_AGENT_HEADER_SIZE + 3];
    struct bg_agent_header h;
    struct bg_error err = {0};

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(bg_agentio_send_frame(sv[0], BG_AGENT_DATA, BG_AGENT_F_STDOUT, 7, "abc", 3),
                     0);
    assert_int_equal(read(sv[1], buf, sizeof(buf)), (ssize_t)sizeof(buf));
    assert_int_equal(bg_agent_header_decode(buf, &h, &err), 0);
    assert_int_equal(h.type, BG_AGENT_DATA);
    assert_int_equal(h.flags, BG_AGENT_F_STDOUT);
    assert_int_equal(h.channel, 7);
    assert_int_equal(h.length, 3);
    assert_memory_equal(buf + BG_AGENT_HEADER_SIZE, "abc", 3);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_all_pipe),
        cmocka_unit_test(test_closed_reader),
        cmocka_unit_test(test_send_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
