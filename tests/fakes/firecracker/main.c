/* SPDX-License-Identifier: MIT */
/* fake-firecracker: a strict Firecracker test double. Started like the real binary, it serves
 * the API on --api-sock, checks every request against its contract table (table.h), keeps
 * Firecracker's pre/post-boot rules, and after InstanceStart answers the hybrid vsock on
 * uds_path by proxying to a banger-agent --serve-unix it spawns in a private temp dir.
 * Test-only flags: --fake-agent PATH, --fake-mode m1,m2 (exit-early, no-vsock, ignore-cad,
 * ignore-term, ignore-reboot), --fake-dump-table. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "table.h"

#define VERSION "1.16.1"
#define CONN_MAX 10       /* Firecracker's micro-http cap */
#define PAYLOAD_MAX 51200 /* --http-api-max-payload-size default */
#define REQ_MAX (PAYLOAD_MAX + 8192)
#define AGENT_PORT_FIRST (1u << 30)

struct conn {
    int fd;
    char buf[REQ_MAX];
    size_t len;
};

static struct {
    const char *id, *api_sock, *agent, *log_path;
    bool exit_early, no_vsock, ignore_cad, ignore_term, ignore_reboot;
    bool started;
    char kernel[4096], vsock[108], agent_sock[108], tmpdir[4096];
    int vsock_fd;
    pid_t agent_pid;
    unsigned next_port;
    FILE *log;
} st = {.id = "anonymous-instance",
        .api_sock = "/run/firecracker.socket",
        .vsock_fd = -1,
        .next_port = AGENT_PORT_FIRST};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    FILE *f = st.log ? st.log : stdout;

    va_start(ap, fmt);
    fprintf(f, "[%s] ", st.id);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    fflush(f);
    va_end(ap);
}

/* ---- HTTP answers, byte for byte as micro-http writes them ---- */

static void reply(int fd, int code, const char *json)
{
    char head[256];
    int n;

    if (!json)
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n",
                     code);
    else
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     code, strlen(json));
    (void)!write(fd, head, (size_t)n);
    if (json)
        (void)!write(fd, json, strlen(json));
}

static void fault(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fault(int fd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s}", "fault_message", msg);
    char *s = json_dumps(j, JSON_COMPACT);
    logf_("400: %s", msg);
    reply(fd, 400, s);
    free(s);
    json_decref(j);
}

/* ---- request checks ---- */

static bool id_ok(const char *id)
{
    if (!*id)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

/* The endpoint for method and path; *ret_id gets a path id (points into path). */
static const struct fake_endpoint *route(const char *method, const char *path, const char **ret_id)
{
    *ret_id = NULL;
    for (size_t i = 0; i < sizeof(fake_endpoints) / sizeof(fake_endpoints[0]); i++) {
        const struct fake_endpoint *e = &fake_endpoints[i];
        const char *brace = strchr(e->path, '{');
        if (strcmp(e->method, method))
            continue;
        if (!brace && !strcmp(e->path, path))
            return e;
        size_t pre = brace ? (size_t)(brace - e->path) : 0;
        if (brace && !strncmp(e->path, path, pre) && !strchr(path + pre, '/')) {
            *ret_id = path + pre;
            return e;
        }
    }
    return NULL;
}

static bool type_ok(json_t *v, char t)
{
    switch (t) {
    case 'i':
        return json_is_integer(v) && json_integer_value(v) >= 0;
    case 's':
        return json_is_string(v);
    case 'b':
        return json_is_boolean(v);
    default:
        return json_is_object(v);
    }
}

/* Unknown fields refused, required fields enforced, types checked: serde's
 * deny_unknown_fields. */
static bool body_ok(int fd, const struct fake_endpoint *e, json_t *body)
{
    const char *k;
    json_t *v;

    if (!json_is_object(body)) {
        fault(fd, "An error occurred when deserializing the json body of a request: expected "
                  "a map.");
        return false;
    }
    json_object_foreach (body, k, v) {
        const struct fake_field *f = NULL;
        for (size_t i = 0; i < FAKE_FIELDS_MAX && e->fields[i].name; i++)
            if (!strcmp(e->fields[i].name, k))
                f = &e->fields[i];
        if (!f) {
            fault(fd,
                  "An error occurred when deserializing the json body of a request: unknown "
                  "field `%s`.",
                  k);
            return false;
        }
        if (!type_ok(v, f->type)) {
            fault(fd,
                  "An error occurred when deserializing the json body of a request: invalid "
                  "type for field `%s`.",
                  k);
            return false;
        }
    }
    for (size_t i = 0; i < FAKE_FIELDS_MAX && e->fields[i].name; i++)
        if (e->fields[i].required && !json_object_get(body, e->fields[i].name)) {
            fault(fd,
                  "An error occurred when deserializing the json body of a request: missing "
                  "field `%s`.",
                  e->fields[i].name);
            return false;
        }
    return true;
}

/* ---- state ---- */

static json_t *machine; /* current machine-config */

static bool readable(const char *path, char *why, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(why, len, "%s", strerror(errno));
        return false;
    }
    close(fd);
    return true;
}

static int listen_unix(const char *path, int backlog)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
        return -1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void put_machine(int fd, json_t *b)
{
    json_int_t v = json_integer_value(json_object_get(b, "vcpu_count"));
    json_int_t m = json_integer_value(json_object_get(b, "mem_size_mib"));

    if (v < 1 || v > 32)
        return fault(fd, "The vCPU number is invalid! The vCPU number can only be 1 or an even "
                         "number when SMT is enabled.");
    if (m < 1)
        return fault(fd, "The memory size (MiB) is either 0, or not a multiple of the configured "
                         "page size.");
    json_object_update(machine, b);
    reply(fd, 204, NULL);
}

static void put_boot(int fd, json_t *b)
{
    const char *k = json_string_value(json_object_get(b, "kernel_image_path"));
    const char *i = json_string_value(json_object_get(b, "initrd_path"));
    char why[128];

    /* Firecracker opens both files during this request */
    if (!readable(k, why, sizeof(why)))
        return fault(fd, "The kernel file cannot be opened: %s (os error %d)", why, ENOENT);
    if (i && !readable(i, why, sizeof(why)))
        return fault(fd,
                     "The initrd file cannot be opened due to invalid path or invalid "
                     "permissions. %s",
                     why);
    snprintf(st.kernel, sizeof(st.kernel), "%s", k);
    reply(fd, 204, NULL);
}

static void put_drive(int fd, json_t *b)
{
    const char *p = json_string_value(json_object_get(b, "path_on_host"));
    char why[128];

    if (!p)
        return fault(fd, "Unable to create the virtio block device: path_on_host is required "
                         "for a file-backed drive");
    if (!readable(p, why, sizeof(why)))
        return fault(fd,
                     "Unable to create the block device: BackingFile(Os { code: 2, kind: "
                     "NotFound, message: \"%s\" }, \"%s\")",
                     why, p);
    reply(fd, 204, NULL);
}

static void put_vsock(int fd, json_t *b)
{
    const char *p = json_string_value(json_object_get(b, "uds_path"));

    if (json_integer_value(json_object_get(b, "guest_cid")) < 3)
        return fault(fd, "Cannot create vsock device: guest_cid must be 3 or greater");
    if (st.vsock_fd >= 0) { /* a repeated PUT replaces the socket */
        close(st.vsock_fd);
        unlink(st.vsock);
    }
    if ((st.vsock_fd = listen_unix(p, 64)) < 0)
        return fault(fd,
                     "Cannot create backend for vsock device: UnixBind(Os { code: %d, "
                     "message: \"%s\" })",
                     errno, strerror(errno));
    snprintf(st.vsock, sizeof(st.vsock), "%s", p);
    reply(fd, 204, NULL);
}

static void spawn_agent(void)
{
    char dir[4096];
    const char *slash = strrchr(st.api_sock, '/');

    snprintf(dir, sizeof(dir), "%.*s/fakefc.XXXXXX", slash ? (int)(slash - st.api_sock) : 1,
             slash ? st.api_sock : ".");
    if (!st.agent || !mkdtemp(dir)) {
        logf_("no agent: %s", st.agent ? strerror(errno) : "no --fake-agent");
        return;
    }
    snprintf(st.tmpdir, sizeof(st.tmpdir), "%s", dir);
    snprintf(st.agent_sock, sizeof(st.agent_sock), "%s/a.sock", dir);
    pid_t pid = fork();
    if (pid == 0) {
        /* the "guest": sandboxed in its own dir, dies with the VMM */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(dir) < 0)
            _exit(127);
        execl(st.agent, st.agent, "--serve-unix", st.agent_sock, (char *)NULL);
        _exit(127);
    }
    st.agent_pid = pid;
}

static void cleanup(void)
{
    if (st.agent_pid > 0)
        kill(st.agent_pid, SIGKILL);
    if (st.agent_sock[0])
        unlink(st.agent_sock);
    if (st.tmpdir[0])
        rmdir(st.tmpdir);
    /* like Firecracker, the API and vsock sockets are left behind: the caller removes them */
}

/* Firecracker has no SIGTERM handler and dies at once; the double does too, but first takes
 * its "guest" (the agent and its private dir) down, which a real VM would not leave behind. */
static void on_term(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void put_action(int fd, json_t *b)
{
    const char *a = json_string_value(json_object_get(b, "action_type"));

    if (!strstr(FAKE_ACTIONS, a) || strchr(a, ','))
        return fault(fd,
                     "An error occurred when deserializing the json body of a request: "
                     "unknown variant `%s`, expected one of `" FAKE_ACTIONS "`.",
                     a);
    if (!strcmp(a, "InstanceStart")) {
        if (st.started)
            return fault(fd, "The requested operation is not supported after starting the "
                             "microVM.");
        if (!st.kernel[0])
            return fault(fd, "Cannot start microvm without kernel configuration.");
        st.started = true;
        spawn_agent();
        return reply(fd, 204, NULL);
    }
    if (!strcmp(a, "SendCtrlAltDel")) {
        if (!st.started)
            return fault(fd, "The requested operation is not supported before starting the "
                             "microVM.");
        reply(fd, 204, NULL);
        if (st.ignore_cad) {
            logf_("SendCtrlAltDel ignored (--fake-mode ignore-cad)");
            return;
        }
        logf_("Vmm is stopping: guest reset after SendCtrlAltDel");
        cleanup();
        exit(0);
    }
    reply(fd, 204, NULL); /* FlushMetrics */
}

static void get(int fd, const char *path)
{
    json_t *j;

    if (!strcmp(path, "/"))
        j = json_pack("{s:s, s:s, s:s, s:s}", "id", st.id, "state",
                      st.started ? "Running" : "Not started", "vmm_version", VERSION, "app_name",
                      "Firecracker");
    else if (!strcmp(path, "/version"))
        j = json_pack("{s:s}", "firecracker_version", VERSION);
    else
        j = json_incref(machine);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    reply(fd, 200, s);
    free(s);
    json_decref(j);
}

static void put(int fd, const struct fake_endpoint *e, const char *id, json_t *b)
{
    if (st.started && strcmp(e->path, "/actions"))
        return fault(fd, "The requested operation is not supported after starting the microVM.");
    if (id) {
        if (!*id)
            return fault(fd, "The ID cannot be empty.");
        if (!id_ok(id))
            return fault(fd, "API Resource IDs can only contain alphanumeric characters and "
                             "underscores.");
        if (strcmp(id, json_string_value(json_object_get(b, e->id_field))))
            return fault(fd, "The id from the path does not match the id from the body!");
    }
    if (!strcmp(e->path, "/machine-config"))
        put_machine(fd, b);
    else if (!strcmp(e->path, "/boot-source"))
        put_boot(fd, b);
    else if (!strcmp(e->path, "/drives/{drive_id}"))
        put_drive(fd, b);
    else if (!strcmp(e->path, "/vsock"))
        put_vsock(fd, b);
    else if (!strcmp(e->path, "/actions"))
        put_action(fd, b);
    else if (!strcmp(e->path, "/logger"))
        reply(fd, 204, NULL);
    else /* network interfaces: there is no tap here */
        fault(fd,
              "Could not create the network device: Open tap device failed: Error while "
              "creating ifreq structure: Invalid argument (os error 22). Invalid TUN/TAP "
              "Backend provided by %s.",
              json_string_value(json_object_get(b, "host_dev_name")));
}

static void dispatch(int fd, const char *method, const char *path, const char *body, size_t blen)
{
    const char *id;
    const struct fake_endpoint *e = route(method, path, &id);
    json_error_t je;

    logf_("%s %s", method, path);
    if (!e)
        return fault(fd, "Invalid request method and/or path: %s %s.", method, path + 1);
    if (!strcmp(method, "GET")) {
        if (blen)
            return fault(fd, "GET request cannot have a body.");
        return get(fd, path);
    }
    if (!blen)
        return fault(fd, "Empty PUT request.");
    json_t *b = json_loadb(body, blen, JSON_REJECT_DUPLICATES, &je);
    if (!b)
        return fault(fd, "An error occurred when deserializing the json body of a request: %s.",
                     je.text);
    if (body_ok(fd, e, b))
        put(fd, e, id, b);
    json_decref(b);
}

/* Parse one complete request from c->buf; returns bytes consumed, 0 if incomplete, -1 bad. */
static long handle(struct conn *c)
{
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    char method[8], path[512];
    size_t clen = 0;

    if (!end)
        return c->len >= REQ_MAX ? -1 : 0;
    *end = '\0';
    char *sp1 = strchr(c->buf, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp1 - c->buf >= (long)sizeof(method) || sp2 - sp1 >= (long)sizeof(path) ||
        strncmp(sp2 + 1, "HTTP/1.1", 8))
        return -1;
    snprintf(method, sizeof(method), "%.*s", (int)(sp1 - c->buf), c->buf);
    snprintf(path, sizeof(path), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    for (char *h = strstr(c->buf, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
        if (!strncasecmp(h + 2, "Content-Length:", 15))
            clen = strtoul(h + 17, NULL, 10);
        else if (h[2]) {
            char *eol = strstr(h + 2, "\r\n");
            char *colon = strchr(h + 2, ':');
            if (!colon || (eol && colon > eol))
                return -1; /* a header line without ':' rejects the request */
        }
    }
    size_t head = (size_t)(end - c->buf) + 4;
    if (clen > PAYLOAD_MAX) {
        fault(c->fd,
              "Request payload with size %zu is larger than the limit of %d allowed by "
              "server.",
              clen, PAYLOAD_MAX);
        return -1;
    }
    if (c->len < head + clen) {
        *end = '\r';
        return 0;
    }
    dispatch(c->fd, method, path, c->buf + head, clen);
    return (long)(head + clen);
}

/* ---- hybrid vsock ---- */

static void relay(int a, int b)
{
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    char buf[65536];

    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return;
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n <= 0)
                return;
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(p[1 - i].fd, buf + off, (size_t)(n - off));
                if (w <= 0)
                    return;
                off += w;
            }
        }
    }
}

/* "CONNECT <port>\n": keyword case-insensitive, at most 32 bytes. Returns the port or -1. */
static long read_connect(int fd)
{
    char line[33];
    size_t n = 0;

    while (n < sizeof(line) - 1) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 2000) <= 0 || read(fd, line + n, 1) != 1)
            return -1;
        if (line[n] == '\n')
            break;
        n++;
    }
    line[n] = '\0';
    if (strncasecmp(line, "CONNECT ", 8) || !line[8] || strspn(line + 8, "0123456789") != n - 8)
        return -1;
    return strtol(line + 8, NULL, 10);
}

/* One host connection to uds_path, in a child: EOF unless the guest listens on the port. */
static void vsock_conn(int fd, unsigned host_port)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    long port = read_connect(fd);

    if (port != 52 || !st.started || st.no_vsock || !st.agent_sock[0])
        _exit(0); /* nobody listens in the guest: RST, the host sees EOF */
    int a = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", st.agent_sock);
    if (a < 0 || connect(a, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        _exit(0);
    char ok[32];
    int n = snprintf(ok, sizeof(ok), "OK %u\n", host_port);
    if (write(fd, ok, (size_t)n) != n)
        _exit(0);
    relay(fd, a);
    _exit(0);
}

static void vsock_accept(void)
{
    int fd = accept4(st.vsock_fd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    unsigned port = st.next_port++;
    pid_t pid = fork();
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        vsock_conn(fd, port);
    }
    close(fd);
}

/* ---- main ---- */

static void reap(void)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != st.agent_pid)
            continue;
        st.agent_pid = 0;
        /* the agent ends on POWEROFF: the guest went down. With reboot=k a guest reboot ends
         * Firecracker; ignore-reboot plays a guest that halted and left the VMM running */
        if (st.ignore_reboot) {
            logf_("guest halted; the VMM keeps running");
            continue;
        }
        logf_("Vmm is stopping: guest reset");
        cleanup();
        exit(0);
    }
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "%s '%s'\n", what, arg);
    return 153; /* ArgParsing */
}

static void set_modes(const char *m)
{
    st.exit_early = strstr(m, "exit-early") != NULL;
    st.no_vsock = strstr(m, "no-vsock") != NULL;
    st.ignore_cad = strstr(m, "ignore-cad") != NULL;
    st.ignore_term = strstr(m, "ignore-term") != NULL;
    st.ignore_reboot = strstr(m, "ignore-reboot") != NULL;
}

static int dump_table(void);

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--version")) {
            printf("Firecracker v" VERSION "\n\n");
            exit(0);
        }
        if (!strcmp(a, "--fake-dump-table"))
            exit(dump_table());
        if (strncmp(a, "--", 2) || strchr(a, '='))
            return usage_error("Found an argument which wasn't expected, or isn't valid in this "
                               "context:",
                               a);
        if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
            return usage_error("This argument requires a value:", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--api-sock"))
            st.api_sock = v;
        else if (!strcmp(a, "--id"))
            st.id = v;
        else if (!strcmp(a, "--log-path"))
            st.log_path = v;
        else if (!strcmp(a, "--fake-agent"))
            st.agent = v;
        else if (!strcmp(a, "--fake-mode"))
            set_modes(v);
        else
            return usage_error("Found an argument which wasn't expected:", a);
    }
    return 0;
}

static bool instance_id_ok(const char *id)
{
    size_t n = strlen(id);

    return n >= 1 && n <= 64 &&
           strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-") == n;
}

static int dump_table(void)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < sizeof(fake_endpoints) / sizeof(fake_endpoints[0]); i++) {
        const struct fake_endpoint *e = &fake_endpoints[i];
        json_t *fields = json_object();
        for (size_t k = 0; k < FAKE_FIELDS_MAX && e->fields[k].name; k++)
            json_object_set_new(fields, e->fields[k].name,
                                json_pack("{s:s#, s:b}", "type", &e->fields[k].type, (size_t)1,
                                          "required", e->fields[k].required));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:o}", "method", e->method, "path",
                                             e->path, "definition", e->def, "fields", fields));
    }
    json_t *root = json_pack("{s:o, s:s}", "endpoints", arr, "actions", FAKE_ACTIONS);
    char *s = json_dumps(root, JSON_INDENT(1));
    puts(s);
    free(s);
    json_decref(root);
    return 0;
}

static void serve(int lfd)
{
    static struct conn conns[CONN_MAX];
    struct pollfd p[CONN_MAX + 2];

    for (int i = 0; i < CONN_MAX; i++)
        conns[i].fd = -1;
    for (;;) {
        int n = 0;
        p[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        p[n++] = (struct pollfd){.fd = st.vsock_fd, .events = POLLIN};
        for (int i = 0; i < CONN_MAX; i++)
            p[n++] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
        (void)poll(p, (nfds_t)n, 50);
        reap();
        if (p[1].revents & POLLIN) {
            if (st.started && !st.no_vsock)
                vsock_accept();
            else /* before InstanceStart the guest driver is not up: EOF */
                close(accept4(st.vsock_fd, NULL, NULL, SOCK_CLOEXEC));
        }
        if (p[0].revents & POLLIN) {
            int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
            int slot = -1;
            for (int i = 0; i < CONN_MAX && fd >= 0 && slot < 0; i++)
                if (conns[i].fd < 0)
                    slot = i;
            if (slot < 0 && fd >= 0) {
                logf_("connection refused: %d connections already", CONN_MAX);
                close(fd);
            } else if (fd >= 0) {
                conns[slot].fd = fd;
                conns[slot].len = 0;
            }
        }
        for (int i = 0; i < CONN_MAX; i++) {
            struct conn *c = &conns[i];
            if (c->fd < 0 || !(p[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
            long used = 0;
            if (r > 0) {
                c->len += (size_t)r;
                while (c->len && (used = handle(c)) > 0) {
                    memmove(c->buf, c->buf + used, c->len - (size_t)used);
                    c->len -= (size_t)used;
                }
            }
            if (r <= 0 || used < 0) {
                close(c->fd);
                c->fd = -1;
            }
        }
    }
}

int main(int argc, char **argv)
{
    int r = parse_args(argc, argv);

    if (r)
        return r;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, st.ignore_term ? SIG_IGN : on_term);
    if (!instance_id_ok(st.id)) {
        fprintf(stderr, "thread 'main' panicked: Invalid instance ID: %s\n", st.id);
        return 101;
    }
    if (st.log_path && !(st.log = fopen(st.log_path, "ae"))) {
        fprintf(stderr, "Failed to open log file %s: %s\n", st.log_path, strerror(errno));
        return 1;
    }
    machine = json_pack("{s:i, s:i, s:b, s:b, s:s}", "vcpu_count", 1, "mem_size_mib", 128, "smt", 0,
                        "track_dirty_pages", 0, "huge_pages", "None");
    if (st.exit_early) {
        logf_("Failed to create the microVM: --fake-mode exit-early");
        return 1;
    }
    /* bind refuses an existing path, and Firecracker never unlinks: a stale socket fails */
    int lfd = listen_unix(st.api_sock, CONN_MAX);
    if (lfd < 0) {
        logf_("Failed to open the API socket at: %s. Check that it is not already used.",
              st.api_sock);
        fprintf(stderr,
                "Failed to open the API socket at: %s. Check that it is not already "
                "used.\n",
                st.api_sock);
        return 1;
    }
    logf_("API server started.");
    serve(lfd);
    return 0;
}
