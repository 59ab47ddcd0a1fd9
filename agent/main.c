/* SPDX-License-Identifier: MIT */
/* banger-agent: PID 1 of banger's initramfs, or (--serve-unix) the same protocol for tests. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/error.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "init.h"
#include "listener.h"
#include "port.h"
#include "serve.h"
#include "sshd.h"

#define CHANNEL_WAIT_MS 10000 /* for the agent channel's device to appear */
#define HOST_POLL_MS 20       /* how often children are reaped while no host is connected */
#define ACCEPT_RETRY_US 100000

static void usage(FILE *f)
{
    fprintf(f, "usage: banger-agent                    (as PID 1 of a banger guest)\n"
               "       banger-agent --serve-unix PATH [--ssh-root DIR]\n"
               "                                       (serve one connection at a time on PATH;\n"
               "                                       DIR stands for the guest's / in what\n"
               "                                       CONNECT does about ssh)\n"
               "       banger-agent --version\n");
}

/* The next host connection; children are reaped while it does not come. */
static int accept_host(int lfd, struct bg_serve *s)
{
    for (;;) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int n = poll(&p, 1, HOST_POLL_MS);
        bg_serve_reap(s);
        if (n <= 0)
            continue;
        if (!(p.revents & POLLIN)) { /* an error on the socket: do not spin on it */
            (void)usleep(HOST_POLL_MS * 1000);
            continue;
        }
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
            bg_log_error("accept a host connection: %s", strerror(errno));
            (void)usleep(ACCEPT_RETRY_US);
        }
    }
}

/* Serve host connections accepted on lfd one at a time until one ends with POWEROFF or
 * REBOOT: returned. */
static enum bg_serve_end serve_listener(int lfd, struct bg_serve *s)
{
    for (;;) {
        int fd = accept_host(lfd, s);
        enum bg_serve_end end = bg_serve_conn(s, fd);
        (void)close(fd);
        if (end != BG_SERVE_LOST)
            return end;
    }
}

static int serve_unix(const char *path, const char *ssh_root)
{
    struct bg_serve *s = NULL;
    struct bg_error err;
    bg_autoclose int lfd = -1;

    if (bg_listener_unix(path, &lfd, &err) < 0 || bg_serve_new(&s, &err) < 0) {
        fprintf(stderr, "banger-agent: %s\n", err.msg);
        return 1;
    }
    bg_serve_set_ssh(s, ssh_root, ssh_root != NULL);
    (void)serve_listener(lfd, s); /* POWEROFF ends the test double's "VM" */
    bg_serve_free(s);
    (void)unlink(path);
    return 0;
}

/* Serve the host on the virtio-serial port (QEMU): one long-lived channel that the host
 * connects to and leaves. Returns how the host ended it (enum bg_serve_end), or <0 with err
 * when the port never appeared. */
static int serve_port(struct bg_serve *s, struct bg_error *err)
{
    bg_autoclose int fd = -1;

    if (bg_port_open(bg_now_ms() + CHANNEL_WAIT_MS, &fd, err) < 0)
        return -1;
    bg_log_info("banger-agent %s: waiting for the host on port %s", BANGER_VERSION, BG_PORT_NAME);
    for (;;) {
        bg_port_wait_host(fd, s);
        enum bg_serve_end end = bg_serve_conn(s, fd);
        if (end != BG_SERVE_LOST)
            return (int)end;
    }
}

/* Serve the host on vsock (Firecracker's hybrid vsock connects to the port); returns like
 * serve_port. */
static int serve_vsock(struct bg_serve *s, struct bg_error *err)
{
    bg_autoclose int lfd = -1;

    if (bg_listener_vsock(BG_AGENT_VSOCK_PORT, bg_now_ms() + CHANNEL_WAIT_MS, &lfd, err) < 0)
        return -1;
    bg_log_info("banger-agent %s: waiting for the host on vsock port %d", BANGER_VERSION,
                BG_AGENT_VSOCK_PORT);
    return (int)serve_listener(lfd, s);
}

static _Noreturn void run_init(void)
{
    enum bg_agent_channel channel = BG_AGENT_CHANNEL_PORT;
    struct bg_serve *s = NULL;
    struct bg_error err;
    int end = -1;

    if (bg_init_boot(&channel, &err) >= 0 && bg_serve_new(&s, &err) >= 0) {
        /* after the root switch and the network: the host keys land in the VM's overlay */
        bg_serve_set_ssh(s, "", bg_sshd_start());
        end = channel == BG_AGENT_CHANNEL_VSOCK ? serve_vsock(s, &err) : serve_port(s, &err);
    }
    if (end < 0) {
        bg_log_error("banger-agent: %s; powering off", err.msg);
        bg_init_poweroff(false);
    }
    bg_init_poweroff(end == BG_SERVE_REBOOT);
}

int main(int argc, char **argv)
{
    /* A host or child that goes away must show up as EPIPE, not kill the agent. */
    (void)signal(SIGPIPE, SIG_IGN);
    if (argc == 2 && !strcmp(argv[1], "--version")) {
        printf("banger-agent %s\n", BANGER_VERSION);
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "--serve-unix"))
        return serve_unix(argv[2], NULL);
    if (argc == 5 && !strcmp(argv[1], "--serve-unix") && !strcmp(argv[3], "--ssh-root"))
        return serve_unix(argv[2], argv[4]);
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (getpid() == 1)
        run_init(); /* the kernel may pass extra arguments to init: they are ignored */
    usage(stderr);
    return 2;
}
