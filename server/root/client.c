/* SPDX-License-Identifier: MIT */
/* The daemon's client of bangerd-root: connect, one message each way, SCM_RIGHTS. */
#include "root/client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/alloc.h"

struct bg_helper_client {
    char *path;
};

struct bg_helper_client *bg_helper_client_new(const char *socket_path)
{
    struct bg_helper_client *c = bg_calloc(1, sizeof(*c));

    c->path = bg_strdup(socket_path);
    return c;
}

void bg_helper_client_free(struct bg_helper_client *c)
{
    if (!c)
        return;
    free(c->path);
    free(c);
}

static int connect_helper(const char *path, int *ret, struct bg_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return bg_error_errno(err, "socket");
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int r = bg_error_errno(err, "connect to the root helper at %s", path);
        (void)close(fd);
        return r;
    }
    *ret = fd;
    return 0;
}

/* One reply message and the fd that came with it. */
static int receive(int fd, char *buf, size_t len, size_t *ret_len, int *ret_fd,
                   struct bg_error *err)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};

    if (poll(&p, 1, BG_HELPER_CALL_MS) == 0)
        return bg_error_set(err, -ETIMEDOUT, "the root helper did not answer within %d ms",
                            BG_HELPER_CALL_MS);
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return bg_error_errno(err, "read the root helper's reply");
    if (n == 0)
        return bg_error_set(err, -ECONNRESET, "the root helper closed the connection");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        return bg_error_set(err, -EMSGSIZE, "the root helper's reply was cut");
    *ret_len = (size_t)n;
    return 0;
}

int bg_helper_call_raw(struct bg_helper_client *c, enum bg_helper_op op, const char *msg,
                       size_t len, struct bg_helper_reply *ret, int *ret_fd, struct bg_error *err)
{
    bg_autoclose int fd = -1;
    bg_autofree char *buf = bg_malloc(BG_HELPER_MSG_MAX);
    struct bg_helper_reply rep;
    int passed = -1, r;
    size_t n = 0;

    if ((r = connect_helper(c->path, &fd, err)) < 0)
        return r;
    /* A peer the helper refuses may find the connection closed before it sends, with the
     * refusal already waiting: read it then. */
    if (send(fd, msg, len, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
        return bg_error_errno(err, "send to the root helper");
    r = receive(fd, buf, BG_HELPER_MSG_MAX, &n, &passed, err);
    if (r == 0 && (r = bg_helper_reply_decode(op, buf, n, &rep, err)) < 0)
        r = bg_error_prefix(err, r, "the root helper's reply");
    if (r == 0 && rep.code < 0)
        r = bg_error_set(err, rep.code, "root helper: %s", rep.message);
    if (r < 0 || !ret_fd) {
        if (passed >= 0)
            (void)close(passed);
        passed = -1;
    }
    if (ret_fd)
        *ret_fd = passed;
    if (r == 0 && ret)
        *ret = rep;
    return r;
}

int bg_helper_call(struct bg_helper_client *c, const struct bg_helper_request *req,
                   struct bg_helper_reply *ret, int *ret_fd, struct bg_error *err)
{
    bg_autofree char *msg = NULL;
    size_t len;
    int r = bg_helper_request_encode(req, &msg, &len, err);

    if (r < 0)
        return bg_error_prefix(err, r, "request to the root helper");
    return bg_helper_call_raw(c, req->op, msg, len, ret, ret_fd, err);
}

int bg_helper_hello(struct bg_helper_client *c, struct bg_helper_reply *ret, struct bg_error *err)
{
    struct bg_helper_request req = {.op = BG_HELPER_OP_HELLO};
    return bg_helper_call(c, &req, ret, NULL, err);
}

int bg_helper_bridge_ensure(struct bg_helper_client *c, struct bg_error *err)
{
    struct bg_helper_request req = {.op = BG_HELPER_OP_BRIDGE_ENSURE};
    return bg_helper_call(c, &req, NULL, NULL, err);
}

static void vm_set(struct bg_helper_request *req, const char *vm)
{
    snprintf(req->vm, sizeof(req->vm), "%s", vm);
}

int bg_helper_tap_create(struct bg_helper_client *c, const char *vm, char *tap, size_t len,
                         struct bg_error *err)
{
    struct bg_helper_request req = {.op = BG_HELPER_OP_TAP_CREATE};
    struct bg_helper_reply rep;
    int r;

    vm_set(&req, vm);
    if ((r = bg_helper_call(c, &req, &rep, NULL, err)) < 0)
        return r;
    snprintf(tap, len, "%s", rep.tap);
    return 0;
}

int bg_helper_tap_delete(struct bg_helper_client *c, const char *vm, struct bg_error *err)
{
    struct bg_helper_request req = {.op = BG_HELPER_OP_TAP_DELETE};

    vm_set(&req, vm);
    return bg_helper_call(c, &req, NULL, NULL, err);
}

int bg_helper_nat_apply(struct bg_helper_client *c, const struct bg_helper_guest *guests, size_t n,
                        struct bg_error *err)
{
    struct bg_helper_request req = {
        .op = BG_HELPER_OP_NAT_APPLY, .guests = (struct bg_helper_guest *)guests, .n_guests = n};
    return bg_helper_call(c, &req, NULL, NULL, err);
}

int bg_helper_vmm_launch(struct bg_helper_client *c, const struct bg_helper_request *req,
                         pid_t *ret_pid, uint64_t *ret_start_time, int *ret_pidfd,
                         struct bg_error *err)
{
    struct bg_helper_request r = *req;
    struct bg_helper_reply rep;
    int fd = -1, rc;

    r.op = BG_HELPER_OP_VMM_LAUNCH;
    if ((rc = bg_helper_call(c, &r, &rep, &fd, err)) < 0)
        return rc;
    if (fd < 0)
        return bg_error_set(err, -EPROTO, "the root helper launched pid %lld but sent no pidfd",
                            (long long)rep.pid);
    *ret_pid = (pid_t)rep.pid;
    *ret_start_time = rep.start_time;
    *ret_pidfd = fd;
    return 0;
}

int bg_helper_vmm_signal(struct bg_helper_client *c, pid_t pid, uint64_t start_time,
                         const char *signal, struct bg_error *err)
{
    struct bg_helper_request req = {
        .op = BG_HELPER_OP_VMM_SIGNAL, .pid = pid, .start_time = start_time};

    snprintf(req.signal, sizeof(req.signal), "%s", signal);
    return bg_helper_call(c, &req, NULL, NULL, err);
}

int bg_helper_vmm_kill(struct bg_helper_client *c, pid_t pid, uint64_t start_time, bool *ret_exited,
                       struct bg_error *err)
{
    struct bg_helper_request req = {
        .op = BG_HELPER_OP_VMM_KILL, .pid = pid, .start_time = start_time};
    struct bg_helper_reply rep;
    int r = bg_helper_call(c, &req, &rep, NULL, err);

    if (r == 0)
        *ret_exited = rep.exited;
    return r;
}

int bg_helper_reconcile(struct bg_helper_client *c, const char *const *names, size_t n,
                        uint32_t *ret_removed, uint32_t *ret_killed, struct bg_error *err)
{
    struct bg_helper_request req = {.op = BG_HELPER_OP_RECONCILE, .n_vms = n};
    struct bg_helper_reply rep;

    if (n > BG_HELPER_VMS_MAX)
        return bg_error_set(err, -E2BIG, "%zu VMs is more than the helper takes (%d)", n,
                            BG_HELPER_VMS_MAX);
    req.vms = bg_calloc(n + 1, sizeof(*req.vms));
    for (size_t i = 0; i < n; i++)
        snprintf(req.vms[i], sizeof(req.vms[i]), "%s", names[i]);
    int r = bg_helper_call(c, &req, &rep, NULL, err);
    free(req.vms);
    if (r < 0)
        return r;
    if (ret_removed)
        *ret_removed = rep.removed;
    if (ret_killed)
        *ret_killed = rep.killed;
    return 0;
}
