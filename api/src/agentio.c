/* SPDX-License-Identifier: MIT */
/* Whole writes: to any blocking fd, and agent frames on blocking sockets. */
#include "banger/agentio.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "banger/agentproto.h"

int bg_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bg_agentio_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int bg_agentio_send_frame(int fd, uint8_t type, uint8_t flags, uint32_t channel,
                          const void *payload, size_t len)
{
    struct bg_agent_header h = {
        .type = type, .flags = flags, .channel = channel, .length = (uint32_t)len};
    uint8_t hdr[BG_AGENT_HEADER_SIZE];
    int r;

    bg_agent_header_encode(&h, hdr);
    if ((r = bg_agentio_send_all(fd, hdr, sizeof(hdr))) < 0)
        return r;
    return len ? bg_agentio_send_all(fd, payload, len) : 0;
}
