/* SPDX-License-Identifier: MIT */
/* One place that turns a socket path into a connected fd. */
#include "host/unixsock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "banger/macro.h"

int bg_unix_connect(const char *path, int *ret_fd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(path);

    if (len >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, path, len + 1);
    bg_autoclose int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}
