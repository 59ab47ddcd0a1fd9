/* SPDX-License-Identifier: MIT */
/* Finding, opening and waiting on the agent's virtio-serial port. */
#include "port.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/timefmt.h"

#define PORT_RETRY_US 20000
#define HOST_POLL_MS 20

/* The /dev path of the port whose sysfs name is BG_PORT_NAME, or NULL. */
static char *find_by_name(void)
{
    DIR *dir = opendir("/sys/class/virtio-ports");
    char *found = NULL;

    if (!dir)
        return NULL;
    for (struct dirent *de; !found && (de = readdir(dir));) {
        if (de->d_name[0] == '.')
            continue;
        char name[64] = "";
        bg_autofree char *p = bg_asprintf("/sys/class/virtio-ports/%s/name", de->d_name);
        bg_autoclose int fd = open(p, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, name, sizeof(name) - 1) : -1;
        if (n <= 0)
            continue;
        name[n] = '\0';
        name[strcspn(name, "\n")] = '\0';
        if (!strcmp(name, BG_PORT_NAME))
            found = bg_asprintf("/dev/%s", de->d_name);
    }
    closedir(dir);
    return found;
}

static int open_once(int *ret_fd)
{
    int fd = open("/dev/virtio-ports/" BG_PORT_NAME, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

    if (fd < 0) {
        bg_autofree char *path = find_by_name();
        if (!path)
            return -ENOENT;
        fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    }
    if (fd < 0)
        return -errno;
    *ret_fd = fd;
    return 0;
}

int bg_port_open(int64_t deadline_ms, int *ret_fd, struct bg_error *err)
{
    for (;;) {
        int r = open_once(ret_fd);
        if (r == 0)
            return 0;
        /* The module may still be probing, or the port may not be ready: try again. */
        if (bg_now_ms() >= deadline_ms)
            return bg_error_set(err, r, "open virtio-serial port '%s': %s", BG_PORT_NAME,
                                strerror(-r));
        (void)usleep(PORT_RETRY_US);
    }
}

void bg_port_wait_host(int fd, struct bg_serve *s)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int n = poll(&p, 1, HOST_POLL_MS);
        if (n > 0 && (p.revents & POLLIN) && !(p.revents & POLLHUP))
            return;
        bg_serve_reap(s);
        /* POLLHUP comes back at once while no host is connected: do not spin on it. */
        if (n > 0)
            (void)usleep(HOST_POLL_MS * 1000);
    }
}
