/* SPDX-License-Identifier: MIT */
/* banger-agent: PID 1 of banger's initramfs, or (--serve-unix) the same protocol for tests. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/error.h"
#include "banger/log.h"
#include "banger/timefmt.h"
#include "init.h"
#include "port.h"
#include "serve.h"

#define PORT_WAIT_MS 10000

static void usage(FILE *f)
{
    fprintf(f, "usage: banger-agent                    (as PID 1 of a banger guest)\n"
               "       banger-agent --serve-unix PATH  (serve one connection at a time on PATH)\n"
               "       banger-agent --version\n");
}

static int listen_unix(const char *path, int *ret_fd, struct bg_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;

    if (strlen(path) >= sizeof(sa.sun_path))
        return bg_error_set(err, -ENAMETOOLONG, "socket path '%s' is too long", path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    bg_autoclose int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bg_error_errno(err, "socket");
    /* A stale socket of an earlier run is replaced; any other file is left alone. */
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return bg_error_errno(err, "bind %s", path);
    if (listen(fd, 4) < 0)
        return bg_error_errno(err, "listen %s", path);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

static int serve_unix(const char *path)
{
    struct bg_serve *s = NULL;
    struct bg_error err;
    bg_autoclose int lfd = -1;

    if (listen_unix(path, &lfd, &err) < 0 || bg_serve_new(&s, &err) < 0) {
        fprintf(stderr, "banger-agent: %s\n", err.msg);
        return 1;
    }
    for (;;) {
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, "banger-agent: accept: %s\n", strerror(errno));
            bg_serve_free(s);
            return 1;
        }
        enum bg_serve_end end = bg_serve_conn(s, cfd);
        (void)close(cfd);
        if (end != BG_SERVE_LOST)
            break; /* POWEROFF ends the test double's "VM" */
    }
    bg_serve_free(s);
    (void)unlink(path);
    return 0;
}

static _Noreturn void run_init(void)
{
    struct bg_serve *s = NULL;
    struct bg_error err;
    int fd = -1;

    if (bg_init_boot(&err) < 0 || bg_serve_new(&s, &err) < 0 ||
        bg_port_open(bg_now_ms() + PORT_WAIT_MS, &fd, &err) < 0) {
        bg_log_error("banger-agent: %s; powering off", err.msg);
        bg_init_poweroff(false);
    }
    bg_log_info("banger-agent %s: waiting for the host", BANGER_VERSION);
    for (;;) {
        bg_port_wait_host(fd, s);
        enum bg_serve_end end = bg_serve_conn(s, fd);
        if (end != BG_SERVE_LOST)
            bg_init_poweroff(end == BG_SERVE_REBOOT);
    }
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
        return serve_unix(argv[2]);
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    if (getpid() == 1)
        run_init(); /* the kernel may pass extra arguments to init: they are ignored */
    usage(stderr);
    return 2;
}
