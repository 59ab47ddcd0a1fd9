/* SPDX-License-Identifier: MIT */
/* The helper's accept loop: peer check, one strict request, one reply (with a pidfd). */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/helperproto.h"
#include "banger/log.h"
#include "banger/timefmt.h"

int bg_hserver_listen(const char *path, uid_t uid, gid_t gid, int *ret_fd, struct bg_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    bg_autoclose int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (strlen(path) >= sizeof(sa.sun_path))
        return bg_error_set(err, -ENAMETOOLONG, "socket path %s is too long", path);
    if (fd < 0)
        return bg_error_errno(err, "socket");
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        (void)unlink(path);
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0)
        return bg_error_errno(err, "bind %s", path);
    if (chown(path, uid, gid) < 0 || chmod(path, 0600) < 0)
        return bg_error_errno(err, "give %s to uid %u", path, (unsigned)uid);
    if (listen(fd, 16) < 0)
        return bg_error_errno(err, "listen on %s", path);
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

static int send_reply(int fd, const char *msg, size_t len, int pass_fd)
{
    struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    if (pass_fd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof(u.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    return sendmsg(fd, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void reply_failure(int fd, int code, const char *msg)
{
    struct bg_helper_reply rep = {.code = code};
    char *text;
    size_t len;

    snprintf(rep.message, sizeof(rep.message), "%s", msg);
    bg_helper_reply_encode(BG_HELPER_OP_HELLO, &rep, &text, &len);
    (void)send_reply(fd, text, len, -1);
    free(text);
}

/* One request of a connection, within the deadline. 0 at the peer's end. */
static int serve_one(struct bg_helperd *h, int fd, uid_t peer, char *buf)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    struct bg_helper_request req;
    struct bg_helper_reply rep;
    struct bg_error err;
    int pass = -1;

    if (poll(&p, 1, BG_HSERVER_REQUEST_MS) <= 0)
        return 0;
    /* MSG_TRUNC: the real length, so an oversized message is refused, not cut and parsed */
    ssize_t n = recv(fd, buf, BG_HELPER_MSG_MAX, MSG_TRUNC);
    if (n <= 0)
        return 0;
    if (n > BG_HELPER_MSG_MAX) {
        bg_log_warn("request from uid %u: %zd bytes, over %d", (unsigned)peer, n,
                    BG_HELPER_MSG_MAX);
        reply_failure(fd, -EMSGSIZE, "request is over the message cap");
        return 1;
    }
    if (bg_helper_request_decode(buf, (size_t)n, &req, &err) < 0) {
        bg_log_warn("request from uid %u: refused: %s", (unsigned)peer, err.msg);
        reply_failure(fd, err.code, err.msg);
        return 1;
    }
    bg_helperd_handle(h, peer, &req, &rep, &pass);
    char *text;
    size_t len;
    bg_helper_reply_encode(req.op, &rep, &text, &len);
    (void)send_reply(fd, text, len, pass);
    free(text);
    if (pass >= 0)
        (void)close(pass);
    bg_helper_request_done(&req);
    return 1;
}

/* Drop what the peer sent without reading it: a socket closed with unread data resets the
 * connection, and the refusal would be lost. */
static void drain(int fd)
{
    char byte;

    while (recv(fd, &byte, 1, MSG_DONTWAIT | MSG_TRUNC) > 0)
        ;
}

static void serve_conn(struct bg_helperd *h, int fd, char *buf)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
        bg_log_warn("connection refused: no peer credentials: %s", strerror(errno));
        return;
    }
    if (cred.uid != h->in->owner_uid) {
        /* authorize before reading anything */
        bg_log_warn("connection from uid %u (pid %d) refused: only uid %u is served",
                    (unsigned)cred.uid, (int)cred.pid, (unsigned)h->in->owner_uid);
        char msg[128];
        snprintf(msg, sizeof(msg), "uid %u is not the owner of this banger install",
                 (unsigned)cred.uid);
        reply_failure(fd, -EPERM, msg);
        drain(fd);
        return;
    }
    while (serve_one(h, fd, cred.uid, buf) > 0)
        ;
}

int bg_hserver_run(struct bg_helperd *h, int listen_fd, const sigset_t *stop, struct bg_error *err)
{
    bg_autoclose int sfd = signalfd(-1, stop, SFD_CLOEXEC);
    bg_autofree char *buf = bg_malloc(BG_HELPER_MSG_MAX + 1);

    if (sfd < 0)
        return bg_error_errno(err, "signalfd");
    for (;;) {
        struct pollfd p[2] = {{.fd = listen_fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return bg_error_errno(err, "poll");
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                bg_log_info("stop: signal %u received", si.ssi_signo);
            return 0;
        }
        int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        serve_conn(h, c, buf);
        (void)close(c);
    }
}
