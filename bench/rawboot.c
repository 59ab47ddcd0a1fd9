/* SPDX-License-Identifier: MIT */
/* The ceiling for bench/vm-run.sh: launch QEMU with the given argv (banger's own, minus the
 * daemon), connect to the agent's virtio-serial chardev socket, say HELLO as bangerd does,
 * wait for the agent's HELLO, send POWEROFF and wait for QEMU to exit.
 *   rawboot AGENT_SOCK -- qemu-system-x86_64 ARGS...
 * Prints one line: "ready_ms N exit_ms N" (both from the fork of QEMU). Built by
 * bench/vm-run.sh with api/src/agentproto.c and api/src/error.c for the frame codec. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/error.h"

#define TIMEOUT_MS 120000 /* bangerd's HELLO wait under TCG */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t qemu;

static void die(const char *msg)
{
    fprintf(stderr, "rawboot: %s\n", msg);
    if (qemu > 0)
        kill(qemu, SIGKILL);
    exit(1);
}

static void send_frame(int fd, uint8_t type, const char *payload)
{
    struct bg_agent_header h = {.type = type, .length = (uint32_t)strlen(payload)};
    uint8_t buf[BG_AGENT_HEADER_SIZE + 64];

    bg_agent_header_encode(&h, buf);
    memcpy(buf + BG_AGENT_HEADER_SIZE, payload, h.length);
    if (write(fd, buf, BG_AGENT_HEADER_SIZE + h.length) !=
        (ssize_t)(BG_AGENT_HEADER_SIZE + h.length))
        die("write to the agent socket failed");
}

/* Read exactly n bytes by the deadline. */
static void read_full(int fd, uint8_t *buf, size_t n, int64_t deadline)
{
    size_t got = 0;

    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - now_ms();
        if (left <= 0)
            die("the agent did not say HELLO in time");
        if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
            continue;
        ssize_t r = read(fd, buf + got, n - got);
        if (r == 0)
            die("the agent socket closed before HELLO");
        if (r < 0 && errno != EINTR)
            die("read from the agent socket failed");
        if (r > 0)
            got += (size_t)r;
    }
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[2], "--"))
        die("usage: rawboot AGENT_SOCK -- QEMU ARGS...");
    const char *path = argv[1];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    (void)unlink(path);

    int64_t t0 = now_ms(), deadline = t0 + TIMEOUT_MS;
    qemu = fork();
    if (qemu < 0)
        die("fork failed");
    if (qemu == 0) {
        execvp(argv[3], argv + 3);
        _exit(127);
    }

    /* connect as soon as QEMU has made the socket (bangerd retries every 20 ms) */
    int fd = -1;
    for (;;) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        close(fd);
        if (waitpid(qemu, NULL, WNOHANG) == qemu) {
            qemu = 0;
            die("qemu exited before its agent socket took a connection");
        }
        if (now_ms() > deadline)
            die("no agent socket");
        usleep(5000);
    }

    send_frame(fd, BG_AGENT_HELLO, "{\"version\":1}");
    uint8_t hdr[BG_AGENT_HEADER_SIZE], payload[BG_AGENT_PAYLOAD_MAX];
    struct bg_agent_header h;
    struct bg_error err;
    read_full(fd, hdr, sizeof(hdr), deadline);
    if (bg_agent_header_decode(hdr, &h, &err) < 0)
        die(err.msg);
    read_full(fd, payload, h.length, deadline);
    if (h.type != BG_AGENT_HELLO)
        die("the agent's first frame is not HELLO");
    int64_t ready = now_ms();

    send_frame(fd, BG_AGENT_POWEROFF, "");
    int st;
    while (waitpid(qemu, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid failed");
    int64_t done = now_ms();
    close(fd);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fprintf(stderr, "rawboot: qemu ended with status 0x%x\n", st);
    printf("ready_ms %lld exit_ms %lld\n", (long long)(ready - t0), (long long)(done - t0));
    return 0;
}
