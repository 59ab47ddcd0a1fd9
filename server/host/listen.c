/* SPDX-License-Identifier: MIT */
/* State-dir locking and unix socket setup, done carefully so nothing of a live daemon's
 * or of the user's is ever removed. */
#include "host/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/utf8.h"
#include "host/fileio.h"
#include "host/unixsock.h"

int bg_state_lock(const char *state_dir, int *ret_fd, struct bg_error *err)
{
    bg_autofree char *path = bg_asprintf("%s/bangerd.lock", state_dir);
    int r = bg_mkdir_p(state_dir, 0700, err);
    if (r < 0)
        return r;

    bg_autoclose int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bg_error_errno(err, "open lock file '%s'", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            return bg_error_errno(err, "lock '%s'", path);
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return bg_error_set(err, -EBUSY,
                            "another bangerd (pid %s) already owns %s; stop it first or use "
                            "another --state-dir",
                            pid[0] ? pid : "unknown", state_dir);
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        return bg_error_errno(err, "write lock file '%s'", path);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

static int fill_addr(const char *path, struct sockaddr_un *addr, struct bg_error *err)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr->sun_path))
        return bg_error_set(err, -ENAMETOOLONG, "socket path '%s' is longer than %zu bytes", path,
                            sizeof(addr->sun_path) - 1);
    strcpy(addr->sun_path, path);
    return 0;
}

/* Remove a leftover socket at path, unless something still accepts on it. */
static int clear_stale(const char *path, struct bg_error *err)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : bg_error_errno(err, "stat '%s'", path);
    if (!S_ISSOCK(st.st_mode))
        return bg_error_set(err, -EEXIST, "'%s' exists and is not a socket; not touching it", path);
    bg_autoclose int probe = -1;
    int r = bg_unix_connect(path, &probe);
    if (r == 0)
        return bg_error_set(err, -EADDRINUSE,
                            "a live server already listens on '%s'; stop it or use --socket", path);
    if (r != -ECONNREFUSED)
        return bg_error_set(err, r, "probe '%s': %s", path, strerror(-r));
    if (unlink(path) < 0)
        return bg_error_errno(err, "remove stale socket '%s'", path);
    bg_log_info("remove stale socket '%s'", path);
    return 0;
}

int bg_listen_unix(const char *path, int *ret_fd, struct bg_error *err)
{
    struct sockaddr_un addr;
    bg_autofree char *dir = bg_strdup(path);
    int r;

    *strrchr(dir, '/') = '\0';
    if ((r = fill_addr(path, &addr, err)) < 0)
        return r;
    if (dir[0] && (r = bg_mkdir_p(dir, 0700, err)) < 0)
        return r;
    if ((r = clear_stale(path, err)) < 0)
        return r;

    bg_autoclose int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bg_error_errno(err, "socket");
    /* Bind under a umask so the socket is never reachable by others, even briefly. */
    mode_t old = umask(0177);
    r = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (r < 0)
        return bg_error_errno(err, "bind '%s'", path);
    /* The kernel's own bound (net.core.somaxconn): while bangerd waits for room under a
     * flood, its owner's connect still finds a place in the queue. */
    if (chmod(path, 0600) < 0 || listen(fd, SOMAXCONN) < 0)
        return bg_error_errno(err, "listen on '%s'", path);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

int bg_listen_tcp_parse(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len,
                        struct bg_error *err)
{
    struct sockaddr_storage ss = {0};
    const char *colon = strrchr(text, ':');
    char host[INET6_ADDRSTRLEN + 2];
    uint64_t port;

    if (!colon || colon == text)
        return bg_error_set(err, -EINVAL, "'%s' is not ADDR:PORT (e.g. 127.0.0.1:8443)",
                            BG_QUOTE(text));
    size_t hlen = (size_t)(colon - text);
    if (hlen >= sizeof(host))
        return bg_error_set(err, -EINVAL, "'%s': the address is too long", BG_QUOTE(text));
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (bg_parse_u64(colon + 1, 0, 65535, &port, err) < 0)
        return bg_error_prefix(err, -EINVAL, "'%s': the port", BG_QUOTE(text));
    if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        host[hlen - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return bg_error_set(err, -EINVAL, "'%s': not an IPv6 address in brackets",
                                BG_QUOTE(text));
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *ret_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
            return bg_error_set(err, -EINVAL,
                                "'%s': not an IPv4 address or an IPv6 one in brackets (host "
                                "names are not resolved)",
                                BG_QUOTE(text));
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        *ret_len = sizeof(*a);
    }
    *ret = ss;
    return 0;
}

/* The address fd is bound to as ADDR:PORT. */
static void bound_text(int fd, char out[BG_LISTEN_TCP_TEXT_MAX])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "?";

    snprintf(out, BG_LISTEN_TCP_TEXT_MAX, "?");
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return;
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        (void)inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof(addr));
        snprintf(out, BG_LISTEN_TCP_TEXT_MAX, "[%s]:%u", addr, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        (void)inet_ntop(AF_INET, &a->sin_addr, addr, sizeof(addr));
        snprintf(out, BG_LISTEN_TCP_TEXT_MAX, "%s:%u", addr, ntohs(a->sin_port));
    }
}

int bg_listen_tcp(const char *text, int *ret_fd, char ret_bound[BG_LISTEN_TCP_TEXT_MAX],
                  struct bg_error *err)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int one = 1;
    int r = bg_listen_tcp_parse(text, &ss, &len, err);

    if (r < 0)
        return r;
    bg_autoclose int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return bg_error_errno(err, "create a TCP socket for %s", text);
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* [::]:PORT listens on IPv6 only; 0.0.0.0:PORT covers IPv4 */
    if (ss.ss_family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0)
        return bg_error_errno(err, "listen on %s", text);
    if (listen(fd, 128) < 0)
        return bg_error_errno(err, "listen on %s", text);
    bound_text(fd, ret_bound);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}
