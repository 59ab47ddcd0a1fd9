/* SPDX-License-Identifier: MIT */
/* Listening for the host on vsock or a unix socket, and which of the two the guest uses. */
#include "listener.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"
#include "cmdline.h"

#define LISTEN_BACKLOG 4
#define VSOCK_RETRY_US 20000
#define CHANNEL_VALUE_MAX 32 /* longest banger.agent= value read; a longer one is refused */

int bg_agent_channel_parse(const char *cmdline, enum bg_agent_channel *ret, struct bg_error *err)
{
    char v[CHANNEL_VALUE_MAX + 1];
    int r = bg_cmdline_value(cmdline, "banger.agent", v, sizeof(v));

    if (r < 0)
        return bg_error_set(err, -EINVAL,
                            "banger.agent= is longer than %d bytes: want 'vsock' or "
                            "'port'",
                            CHANNEL_VALUE_MAX);
    if (r == 0 || !strcmp(v, "port"))
        *ret = BG_AGENT_CHANNEL_PORT;
    else if (!strcmp(v, "vsock"))
        *ret = BG_AGENT_CHANNEL_VSOCK;
    else
        return bg_error_set(err, -EINVAL, "banger.agent=%s: want 'vsock' or 'port'", BG_QUOTE(v));
    return 0;
}

static int listen_once(uint32_t port, int *ret_fd)
{
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
    bg_autoclose int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, LISTEN_BACKLOG) < 0)
        return -errno;
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

int bg_listener_vsock(uint32_t port, int64_t deadline_ms, int *ret_fd, struct bg_error *err)
{
    for (;;) {
        int r = listen_once(port, ret_fd);
        if (r == 0)
            return 0;
        /* The transport module may still be registering. */
        if (bg_now_ms() >= deadline_ms)
            return bg_error_set(err, r, "listen on vsock port %u: %s", (unsigned)port,
                                strerror(-r));
        (void)usleep(VSOCK_RETRY_US);
    }
}

int bg_listener_unix(const char *path, int *ret_fd, struct bg_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;

    if (strlen(path) >= sizeof(sa.sun_path))
        return bg_error_set(err, -ENAMETOOLONG, "socket path '%s' is too long", path);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    bg_autoclose int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bg_error_errno(err, "socket");
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return bg_error_errno(err, "bind %s", path);
    if (listen(fd, LISTEN_BACKLOG) < 0)
        return bg_error_errno(err, "listen %s", path);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}
