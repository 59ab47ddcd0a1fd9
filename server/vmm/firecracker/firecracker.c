/* SPDX-License-Identifier: MIT */
/* The Firecracker driver: launch, API readiness, boot over the API, hybrid vsock agent,
 * SendCtrlAltDel, pidfile recovery. */
#include "vmm/firecracker/firecracker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "banger/agentproto.h"
#include "banger/alloc.h"
#include "banger/image.h"
#include "banger/log.h"
#include "banger/proc.h"
#include "banger/timefmt.h"
#include "banger/utf8.h"
#include "host/fileio.h"
#include "host/run.h"
#include "host/unixsock.h"
#include "vmm/firecracker/fcapi.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define READY_POLL_MS 10       /* as firecracker-go-sdk */
#define READY_DEADLINE_MS 3000 /* Firecracker binds within ~12 ms; 3 s as the SDK */
#define API_TIMEOUT_MS 2000    /* per request; Firecracker answers once the VMM thread did it */
#define VSOCK_RETRY_MS 100
#define VSOCK_ACK_MS 1000
#define CAD_WAIT_MS 3000
#define LOG_TAIL_MAX 600
#define VERSION_OUT_MAX 1024

/* What a Firecracker leaves in its run dir, besides its log and the console. */
static const char *const run_files[] = {BG_FC_API_SOCK, BG_FC_VSOCK, BG_FC_PIDFILE, NULL};

/* The binary: path (firecracker_path), or NULL for "firecracker" found in PATH. */
static int find_binary(const char *path, char **ret, struct bg_error *err)
{
    if (!path)
        return bg_run_find_program("firecracker", ret, err);
    if (access(path, X_OK) < 0)
        return bg_error_errno(err, "firecracker_path %s", path);
    *ret = bg_strdup(path);
    return 0;
}

int bg_firecracker_version(const char *path, char **ret_bin, struct bg_fc_version *ret,
                           struct bg_error *err)
{
    bg_autofree char *bin = NULL;
    struct bg_run_result res;
    int r;

    if ((r = find_binary(path, &bin, err)) < 0)
        return r;
    const char *argv[] = {bin, "--version", NULL};
    struct bg_run_opts o = {
        .argv = argv, .out_fd = -1, .timeout_ms = 5000, .out_max = VERSION_OUT_MAX};
    if ((r = bg_run(&o, &res, err)) < 0)
        return r;
    if (res.status != 0)
        r = bg_error_set(err, -EBADMSG, "%s --version exited with %d", bin, res.status);
    else if ((r = bg_fc_version_parse(res.out, ret, err)) < 0)
        r = bg_error_prefix(err, r, "%s --version", bin);
    bg_run_result_done(&res);
    if (r < 0)
        return r;
    *ret_bin = bg_steal_ptr(&bin);
    return 0;
}

int bg_firecracker_kernel_check(const char *path, struct bg_error *err)
{
    bg_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    unsigned char magic[4];

    /* an unreadable kernel is Firecracker's to refuse: its fault_message says why */
    if (fd < 0)
        return 0;
    if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) || memcmp(magic, "\177ELF", 4))
        return bg_error_set(err, -ENOEXEC,
                            "kernel %s is not an uncompressed ELF vmlinux, the only format "
                            "Firecracker loads on x86_64: import the image with a vmlinux (e.g. "
                            "one of Firecracker's CI kernels, see docs/images.md) or set vmm = "
                            "\"qemu\"",
                            path);
    return 0;
}

static int fc_probe(const struct bg_vmm_settings *s, struct bg_vmm_probe *ret)
{
    struct bg_vmm_probe p = {0};
    bg_autofree char *bin = NULL;
    struct bg_fc_version v;
    struct bg_error e;
    int r;

    snprintf(p.accel, sizeof(p.accel), "kvm");
    if ((r = bg_firecracker_version(s->firecracker_path, &bin, &v, &e)) < 0) {
        bg_utf8_format(p.reason, sizeof(p.reason), "%s",
                       r == -ENOENT && !s->firecracker_path ? "not installed" : e.msg);
        *ret = p;
        return 0;
    }
    bg_fc_version_format(&v, p.version, sizeof(p.version));
    int k = s->firecracker_kvm_check ? bg_vmm_kvm_check() : 0;
    if (!bg_fc_version_supported(&v))
        snprintf(p.reason, sizeof(p.reason), "version %s unsupported (need 1.%d or newer)",
                 p.version, BG_FC_MIN_MINOR);
    else if (k < 0)
        snprintf(p.reason, sizeof(p.reason), "/dev/kvm not usable (%s)", bg_vmm_kvm_why(k));
    else {
        p.usable = true;
        bg_utf8_format(p.reason, sizeof(p.reason), "version %s (%s)%s", p.version, bin,
                       s->firecracker_kvm_check
                           ? ""
                           : "; /dev/kvm not checked (firecracker_kvm_check = false)");
    }
    *ret = p;
    return 0;
}

BG_TESTABLE char **bg_firecracker_argv(const char *binary, const char *id, const char *run_dir)
{
    char **argv = bg_calloc(8, sizeof(*argv));
    size_t n = 0;

    /* "--name value" as two entries: Firecracker refuses "--name=value" */
    argv[n++] = bg_strdup(binary);
    argv[n++] = bg_strdup("--api-sock");
    argv[n++] = bg_asprintf("%s/" BG_FC_API_SOCK, run_dir);
    argv[n++] = bg_strdup("--id");
    argv[n++] = bg_strdup(id);
    argv[n++] = bg_strdup("--log-path");
    argv[n++] = bg_asprintf("%s/" BG_FC_LOG, run_dir);
    return argv;
}

static void add_req(json_t *reqs, const char *path, json_t *body)
{
    /* "o" steals body */
    json_array_append_new(reqs, json_pack("{s:s, s:o}", "path", path, "body", body));
}

static void add_drive(json_t *reqs, const char *id, const char *path, bool ro)
{
    bg_autofree char *p = bg_asprintf("/drives/%s", id);

    /* not is_root_device: banger's initramfs mounts the root itself; drives are then attached
     * in this order, vda, vdb, vdc, as the command line says */
    add_req(reqs, p,
            json_pack("{s:s, s:s, s:b, s:b}", "drive_id", id, "path_on_host", path,
                      "is_root_device", 0, "is_read_only", ro));
}

BG_TESTABLE json_t *bg_firecracker_boot_requests(const struct bg_vmm_launch *l)
{
    json_t *reqs = json_array();
    bg_autofree char *args = bg_asprintf("%s " BG_FC_BOOT_ARGS_EXTRA, l->cmdline);
    bg_autofree char *vsock = bg_asprintf("%s/" BG_FC_VSOCK, l->run_dir);

    add_req(reqs, "/machine-config",
            json_pack("{s:I, s:I}", "vcpu_count", (json_int_t)l->vcpus, "mem_size_mib",
                      (json_int_t)l->memory_mib));
    json_t *boot = json_pack("{s:s, s:s}", "kernel_image_path", l->kernel, "boot_args", args);
    if (l->initrd)
        json_object_set_new(boot, "initrd_path", json_string(l->initrd));
    add_req(reqs, "/boot-source", boot);
    if (l->rootfs)
        add_drive(reqs, "rootfs", l->rootfs, true);
    add_drive(reqs, "overlay", l->overlay, false);
    if (l->workdisk)
        add_drive(reqs, "work", l->workdisk, false);
    add_req(reqs, "/vsock",
            json_pack("{s:i, s:s}", "guest_cid", BG_FC_GUEST_CID, "uds_path", vsock));
    if (l->tap)
        add_req(reqs, "/network-interfaces/eth0",
                json_pack("{s:s, s:s}", "iface_id", "eth0", "host_dev_name", l->tap));
    add_req(reqs, "/actions", json_pack("{s:s}", "action_type", "InstanceStart"));
    return reqs;
}

static void unlink_sockets(const struct bg_vmm_instance *vi)
{
    if (vi->control_path)
        (void)unlink(vi->control_path);
    if (vi->agent_path)
        (void)unlink(vi->agent_path);
}

/* Why the process is gone: its log and console tails. */
static int exited_error(const struct bg_vmm_instance *vi, const char *run_dir, const char *what,
                        struct bg_error *err)
{
    bg_autofree char *log = bg_asprintf("%s/" BG_FC_LOG, run_dir);
    char tail[LOG_TAIL_MAX], ctail[LOG_TAIL_MAX];

    bg_file_tail_text(log, tail, sizeof(tail));
    bg_file_tail_text(vi->console_path, ctail, sizeof(ctail));
    return bg_error_set(err, -ECHILD, "firecracker exited %s: %s%s%s", what,
                        tail[0] ? tail : "(empty log)", ctail[0] ? "\nstdout: " : "", ctail);
}

/* Poll until the API answers GET /, the process exits, or the deadline passes. */
static int await_api(const struct bg_vmm_instance *vi, struct bg_fcapi *api, const char *run_dir,
                     struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + READY_DEADLINE_MS;
    struct bg_error e = {0};

    for (;;) {
        if (access(vi->control_path, F_OK) == 0 &&
            bg_fcapi_call(api, "GET", "/", NULL, NULL, &e) == 0)
            return 0;
        if (!bg_vmm_instance_alive(vi))
            return exited_error(vi, run_dir, "before its API socket answered", err);
        if (bg_now_ms() > deadline)
            return bg_error_set(err, -ETIMEDOUT, "firecracker API socket %s not ready in %d ms%s%s",
                                vi->control_path, READY_DEADLINE_MS, e.msg[0] ? ": " : "", e.msg);
        (void)usleep(READY_POLL_MS * 1000);
    }
}

static int boot(const struct bg_vmm_launch *l, struct bg_fcapi *api, struct bg_error *err)
{
    json_t *reqs = bg_firecracker_boot_requests(l);
    size_t i;
    json_t *req;
    int r = 0;

    json_array_foreach (reqs, i, req) {
        const char *path = json_string_value(json_object_get(req, "path"));
        if ((r = bg_fcapi_put(api, path, json_object_get(req, "body"), err)) < 0)
            break;
    }
    json_decref(reqs);
    return r;
}

/* The pid, for a daemon that dies before it records it (fc_find_unrecorded): Firecracker
 * writes no pidfile of its own. Written to a temporary name and renamed, so it is never seen
 * half written. */
static void write_pidfile(const char *run_dir, pid_t pid)
{
    bg_autofree char *path = bg_asprintf("%s/" BG_FC_PIDFILE, run_dir);
    bg_autofree char *tmp = bg_asprintf("%s.new", path);
    char text[32];
    int n = snprintf(text, sizeof(text), "%d\n", (int)pid);
    bg_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || write(fd, text, (size_t)n) != n || rename(tmp, path) < 0) {
        bg_log_warn("start firecracker pid %d: write %s: %s", (int)pid, path, strerror(errno));
        (void)unlink(tmp);
    }
}

static int spawn(const char *path, const struct bg_vmm_launch *l, struct bg_vmm_instance *vi,
                 struct bg_error *err)
{
    bg_autofree char *bin = NULL;
    bg_autofree char *log = bg_asprintf("%s/" BG_FC_LOG, l->run_dir);
    bg_autofree char *pidfile = bg_asprintf("%s/" BG_FC_PIDFILE, l->run_dir);
    char state;
    int r;

    if ((r = find_binary(path, &bin, err)) < 0)
        return r;
    /* Firecracker refuses to bind an existing path and never removes its sockets */
    unlink_sockets(vi);
    (void)unlink(pidfile);
    (void)unlink(vi->console_path);
    /* --log-path must exist (a file or a fifo) */
    bg_autoclose int lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (lfd < 0)
        return bg_error_errno(err, "create %s", log);
    char **argv = bg_firecracker_argv(bin, l->id, l->run_dir);
    r = bg_run_detached((const char *const *)argv, vi->console_path, &vi->pid, err);
    bg_strv_free(argv);
    if (r < 0)
        return r;
    write_pidfile(l->run_dir, vi->pid);
    if (bg_proc_stat(vi->pid, &state, &vi->start_time, NULL) < 0)
        return exited_error(vi, l->run_dir, "at once", err);
    return 0;
}

static int fc_start(const struct bg_vmm_settings *s, const struct bg_vmm_launch *l,
                    struct bg_vmm_instance *ret, struct bg_error *err)
{
    struct bg_vmm_instance vi = {0};
    bg_auto(bg_fcapi_freep) struct bg_fcapi *api = NULL;
    int r;

    if ((r = bg_firecracker_kernel_check(l->kernel, err)) < 0)
        return bg_error_prefix(err, r, "start firecracker for '%s'", l->id);
    if (strlen(l->run_dir) + 1 + strlen(BG_FC_API_SOCK) > SUN_PATH_MAX)
        return bg_error_set(err, -ENAMETOOLONG,
                            "run dir %s is too long for a unix socket path; use a shorter "
                            "runtime_dir",
                            l->run_dir);
    snprintf(vi.accel, sizeof(vi.accel), "kvm");
    vi.control_path = bg_asprintf("%s/" BG_FC_API_SOCK, l->run_dir);
    vi.agent_path = bg_asprintf("%s/" BG_FC_VSOCK, l->run_dir);
    vi.console_path = bg_asprintf("%s/" BG_VMM_CONSOLE, l->run_dir);
    api = bg_fcapi_new(vi.control_path, API_TIMEOUT_MS);
    if ((r = spawn(s->firecracker_path, l, &vi, err)) < 0 ||
        (r = await_api(&vi, api, l->run_dir, err)) < 0 || (r = boot(l, api, err)) < 0) {
        if (vi.pid > 0)
            (void)bg_vmm_stop(&bg_vmm_firecracker, &vi, 0, NULL);
        unlink_sockets(&vi);
        bg_vmm_instance_done(&vi);
        return bg_error_prefix(err, r, "start firecracker for '%s'", l->id);
    }
    *ret = vi;
    return 0;
}

/* Read the "OK <port>\n" line byte by byte (nothing after it may be consumed: the agent's
 * HELLO follows). 0 on OK, -ECONNRESET on EOF (no listener in the guest yet), -ETIMEDOUT,
 * -EPROTO for anything else. */
static int read_ack(int fd, int timeout_ms, char *line, size_t len)
{
    int64_t deadline = bg_now_ms() + timeout_ms;
    size_t n = 0;

    while (n + 1 < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - bg_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0)
            return -ETIMEDOUT;
        ssize_t k = read(fd, line + n, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -ECONNRESET;
        if (line[n] == '\n') {
            line[n] = '\0';
            return strncmp(line, "OK ", 3) ? -EPROTO : 0;
        }
        n++;
    }
    line[n] = '\0';
    return -EPROTO;
}

/* One hybrid vsock attempt: connect, CONNECT <port>, wait for OK. */
static int vsock_attempt(const char *path, int *ret_fd, char *why, size_t why_len)
{
    bg_autoclose int fd = -1;
    char req[32], line[64];
    int r;

    if ((r = bg_unix_connect(path, &fd)) < 0) {
        snprintf(why, why_len, "connect %s: %s", path, strerror(-r));
        return r;
    }
    int n = snprintf(req, sizeof(req), "CONNECT %d\n", BG_AGENT_VSOCK_PORT);
    ssize_t w = write(fd, req, (size_t)n);
    /* a peer that hung up before reading CONNECT is as good as EOF before OK */
    bool hung_up = w < 0 && (errno == EPIPE || errno == ECONNRESET);
    if (w != n && !hung_up) {
        snprintf(why, why_len, "write CONNECT: %s", w < 0 ? strerror(errno) : "short write");
        return -EIO;
    }
    r = hung_up ? -ECONNRESET : read_ack(fd, VSOCK_ACK_MS, line, sizeof(line));
    if (r < 0) {
        snprintf(why, why_len, "%s",
                 r == -ECONNRESET  ? "EOF before OK: the guest agent is not listening yet"
                 : r == -ETIMEDOUT ? "no OK within 1 s"
                                   : "an answer other than OK");
        return r;
    }
    *ret_fd = bg_steal_fd(&fd);
    return 0;
}

static int fc_agent_connect(const struct bg_vmm_instance *vi, int64_t deadline_ms, int *ret_fd,
                            struct bg_error *err)
{
    char why[160] = "";
    int r;

    for (;;) {
        if ((r = vsock_attempt(vi->agent_path, ret_fd, why, sizeof(why))) == 0)
            return 0;
        if (!bg_vmm_instance_alive(vi))
            return bg_error_set(err, -ECONNREFUSED, "firecracker (pid %d) is no longer running",
                                (int)vi->pid);
        if (bg_now_ms() + VSOCK_RETRY_MS >= deadline_ms)
            return bg_error_set(err, -ETIMEDOUT, "agent on vsock %s port %d: %s", vi->agent_path,
                                BG_AGENT_VSOCK_PORT, why);
        (void)usleep(VSOCK_RETRY_MS * 1000);
    }
}

/* PUT /actions SendCtrlAltDel: the guest reboots and Firecracker exits. False when refused. */
static bool send_cad(const struct bg_vmm_instance *vi)
{
    if (!vi->control_path)
        return false;

    bg_auto(bg_fcapi_freep) struct bg_fcapi *api = bg_fcapi_new(vi->control_path, 1000);
    json_t *body = json_pack("{s:s}", "action_type", "SendCtrlAltDel");
    struct bg_error e;
    int r = bg_fcapi_put(api, "/actions", body, &e);

    json_decref(body);
    if (r < 0)
        bg_log_debug("stop firecracker pid %d: %s", (int)vi->pid, e.msg);
    return r == 0;
}

/* Firecracker's own pidfile is the one the driver wrote; the process counts only when its
 * --api-sock is this run dir's. */
static int fc_find_unrecorded(const char *run_dir, struct bg_vmm_instance *vi)
{
    bg_autofree char *pidfile = bg_asprintf("%s/" BG_FC_PIDFILE, run_dir);
    bg_autofree char *api = bg_asprintf("%s/" BG_FC_API_SOCK, run_dir);
    int r = bg_vmm_pidfile_find(pidfile, "--api-sock", api, &vi->pid, &vi->start_time);

    if (r < 0)
        return r;
    if (!vi->control_path)
        vi->control_path = bg_steal_ptr(&api);
    if (!vi->agent_path)
        vi->agent_path = bg_asprintf("%s/" BG_FC_VSOCK, run_dir);
    if (!vi->console_path)
        vi->console_path = bg_asprintf("%s/" BG_VMM_CONSOLE, run_dir);
    return 0;
}

static json_t *fc_describe(const struct bg_vmm_instance *vi)
{
    return json_pack("{s:I, s:s, s:s?, s:s?, s:s?}", "pid", (json_int_t)vi->pid, "accel",
                     vi->accel[0] ? vi->accel : "kvm", "agent_socket", vi->agent_path,
                     "control_socket", vi->control_path, "console", vi->console_path);
}

const struct bg_vmm_driver bg_vmm_firecracker = {
    .name = "firecracker",
    .image_vmm = BG_VMM_FIRECRACKER,
    .stop_by_reboot = true,
    .elf_kernel_only = true,
    .log_name = BG_FC_LOG,
    .run_files = run_files,
    .probe = fc_probe,
    .start = fc_start,
    .agent_connect = fc_agent_connect,
    .find_unrecorded = fc_find_unrecorded,
    .ask_exit = send_cad,
    .ask_exit_name = "SendCtrlAltDel",
    .ask_exit_wait_ms = CAD_WAIT_MS,
    .ask_exit_needs_guest = true,
    .describe = fc_describe,
};
