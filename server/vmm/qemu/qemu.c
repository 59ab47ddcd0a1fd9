/* SPDX-License-Identifier: MIT */
/* The QEMU microvm driver: argv, detached launch, agent socket, QMP quit, pidfile recovery. */
#include "vmm/qemu/qemu.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "banger/alloc.h"
#include "banger/image.h"
#include "banger/log.h"
#include "banger/proc.h"
#include "banger/timefmt.h"
#include "host/fileio.h"
#include "host/run.h"
#include "host/unixsock.h"
#include "vmm/qemu/qmp.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define ARGV_MAX 64
#define SPAWN_READY_MS 10000 /* QEMU creates its sockets within this after exec */
#define QUIT_WAIT_MS 3000
#define LOG_TAIL_MAX 600

/* What a QEMU leaves in its run dir, besides its log and the console. */
static const char *const run_files[] = {BG_QEMU_AGENT_SOCK, BG_QEMU_QMP_SOCK, BG_QEMU_PIDFILE,
                                        NULL};

/* "kvm" or "tcg" for this start under accel_pref ("auto", "kvm", "tcg"); -ENODEV when accel =
 * kvm and KVM is not usable. reason (may be NULL) says why. */
static int accel_resolve(const char *accel_pref, const char **ret, char *reason, size_t len)
{
    if (!accel_pref)
        accel_pref = "auto";
    int k = strcmp(accel_pref, "tcg") ? bg_vmm_kvm_check() : 0;

    if (!strcmp(accel_pref, "tcg")) {
        *ret = "tcg";
        if (reason)
            snprintf(reason, len, "using TCG (accel = tcg)");
        return 0;
    }
    if (k == 0) {
        *ret = "kvm";
        if (reason)
            snprintf(reason, len, "using KVM");
        return 0;
    }
    if (reason)
        snprintf(reason, len, "/dev/kvm not usable (%s)%s", bg_vmm_kvm_why(k),
                 strcmp(accel_pref, "kvm") ? ", using TCG (slow)" : " and accel = kvm");
    *ret = "tcg";
    return strcmp(accel_pref, "kvm") ? 0 : -ENODEV;
}

struct argv_builder {
    char *v[ARGV_MAX + 1];
    size_t n;
};

BG_PRINTF(2, 3)
static void add(struct argv_builder *b, const char *fmt, ...)
{
    va_list ap;
    char *s;

    assert(b->n < ARGV_MAX);
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    b->v[b->n++] = s;
}

/* QEMU option values are comma-separated lists: a literal comma is written twice. */
static char *opt_escape(const char *s)
{
    size_t extra = 0;

    for (const char *p = s; *p; p++)
        extra += *p == ',';
    char *out = bg_malloc(strlen(s) + extra + 1), *o = out;
    for (const char *p = s; *p; p++) {
        *o++ = *p;
        if (*p == ',')
            *o++ = ',';
    }
    *o = '\0';
    return out;
}

/* -drive + -device for one virtio-blk disk. Order of the calls is the guest's vda, vdb, ... */
static void add_disk(struct argv_builder *b, const char *id, const char *path, bool readonly)
{
    bg_autofree char *file = opt_escape(path);

    add(b, "-drive");
    if (readonly)
        add(b, "id=%s,file=%s,format=raw,if=none,readonly=on,cache=writeback,aio=threads", id,
            file);
    else
        add(b,
            "id=%s,file=%s,format=raw,if=none,cache=writeback,aio=threads,discard=unmap,"
            "detect-zeroes=unmap",
            id, file);
    add(b, "-device");
    add(b, "virtio-blk-device,drive=%s", id);
}

static void add_machine(struct argv_builder *b, const char *binary, const char *accel,
                        const struct bg_vmm_launch *l)
{
    bool kvm = !strcmp(accel, "kvm");

    add(b, "%s", binary);
    add(b, "-name");
    add(b, "%s", l->id);
    add(b, "-M");
    add(b, "microvm,acpi=on");
    add(b, "-accel");
    add(b, "%s", kvm ? "kvm" : "tcg");
    add(b, "-cpu");
    add(b, "%s", kvm ? "host" : "max");
    add(b, "-smp");
    add(b, "%u", l->vcpus);
    add(b, "-m");
    add(b, "%u", l->memory_mib);
    add(b, "-nodefaults");
    add(b, "-no-user-config");
    add(b, "-display");
    add(b, "none");
    add(b, "-no-reboot");
    add(b, "-kernel");
    add(b, "%s", l->kernel);
    if (l->initrd) {
        add(b, "-initrd");
        add(b, "%s", l->initrd);
    }
    add(b, "-append");
    add(b, "%s " BG_QEMU_NET_ARGS, l->cmdline);
}

/* run is the run dir with its commas doubled: every path below is inside an option list. */
static void add_devices(struct argv_builder *b, const struct bg_vmm_launch *l, const char *run)
{
    if (l->rootfs)
        add_disk(b, "rootfs", l->rootfs, true);
    add_disk(b, "overlay", l->overlay, false);
    if (l->workdisk)
        add_disk(b, "work", l->workdisk, false);
    add(b, "-device");
    add(b, "virtio-serial-device");
    add(b, "-chardev");
    add(b, "socket,id=agent,path=%s/" BG_QEMU_AGENT_SOCK ",server=on,wait=off", run);
    add(b, "-device");
    add(b, "virtserialport,chardev=agent,name=banger.agent");
    add(b, "-netdev");
    add(b, "user,id=net0,restrict=%s", l->nat ? "off" : "on");
    add(b, "-device");
    add(b, "virtio-net-device,netdev=net0");
    /* not "-serial file:PATH": QEMU takes everything after "file:" as the path, so there a
     * doubled comma would stay doubled; a -chardev value is an option list like the others */
    add(b, "-chardev");
    add(b, "file,id=console,path=%s/" BG_VMM_CONSOLE, run);
    add(b, "-serial");
    add(b, "chardev:console");
    add(b, "-chardev");
    add(b, "socket,id=qmp,path=%s/" BG_QEMU_QMP_SOCK ",server=on,wait=off", run);
    add(b, "-mon");
    add(b, "chardev=qmp,mode=control");
    /* a plain path, not an option list */
    add(b, "-pidfile");
    add(b, "%s/" BG_QEMU_PIDFILE, l->run_dir);
}

BG_TESTABLE int bg_qemu_argv_build(const char *binary, const char *accel,
                                   const struct bg_vmm_launch *l, char ***ret, struct bg_error *err)
{
    struct argv_builder b = {0};

    if (!l->id || !l->kernel || !l->cmdline || !l->overlay || !l->run_dir || !l->vcpus ||
        !l->memory_mib)
        return bg_error_set(err, -EINVAL,
                            "launch of '%s' lacks a kernel, command line, overlay, "
                            "run dir or size",
                            l->id ? l->id : "?");
    if (strlen(l->run_dir) + 1 + strlen(BG_QEMU_AGENT_SOCK) > SUN_PATH_MAX)
        return bg_error_set(err, -ENAMETOOLONG,
                            "run dir %s is too long for a unix socket path (%zu bytes at most); "
                            "use a shorter runtime_dir",
                            l->run_dir, SUN_PATH_MAX - 1 - strlen(BG_QEMU_AGENT_SOCK));
    bg_autofree char *run = opt_escape(l->run_dir);
    add_machine(&b, binary, accel, l);
    add_devices(&b, l, run);
    char **argv = bg_calloc(b.n + 1, sizeof(*argv));
    memcpy(argv, b.v, b.n * sizeof(*argv));
    *ret = argv;
    return 0;
}

BG_TESTABLE int bg_qemu_version_parse(const char *text, char *buf, size_t len)
{
    static const char prefix[] = "QEMU emulator version ";
    const char *p = strstr(text, prefix);

    if (!p)
        return -EBADMSG;
    p += sizeof(prefix) - 1;
    size_t n = strspn(p, "0123456789.");
    if (n == 0 || n >= len)
        return -EBADMSG;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return 0;
}

static int qemu_probe(const struct bg_vmm_settings *s, struct bg_vmm_probe *ret)
{
    struct bg_vmm_probe p = {0};
    bg_autofree char *bin = NULL;
    struct bg_run_result res;
    struct bg_error e;

    if (bg_run_find_program(BG_QEMU_BINARY, &bin, &e) < 0) {
        snprintf(p.reason, sizeof(p.reason), "%s not installed", BG_QEMU_BINARY);
        *ret = p;
        return 0;
    }
    const char *argv[] = {bin, "--version", NULL};
    struct bg_run_opts o = {.argv = argv, .out_fd = -1, .timeout_ms = 10000};
    int r = bg_run_ok(&o, &res, &e);
    if (r < 0 || bg_qemu_version_parse(res.out, p.version, sizeof(p.version)) < 0) {
        snprintf(p.reason, sizeof(p.reason), "%s --version failed (%s)", bin,
                 r < 0 ? e.msg : "unexpected output");
        if (r == 0)
            bg_run_result_done(&res);
        *ret = p;
        return 0;
    }
    bg_run_result_done(&res);
    const char *accel;
    p.usable = accel_resolve(s->accel, &accel, p.reason, sizeof(p.reason)) == 0;
    snprintf(p.accel, sizeof(p.accel), "%s", accel);
    *ret = p;
    return 0;
}

static void unlink_run_files(const char *run_dir)
{
    bg_autofree char *log = bg_asprintf("%s/" BG_QEMU_LOG, run_dir);

    for (const char *const *f = run_files; *f; f++) {
        bg_autofree char *p = bg_asprintf("%s/%s", run_dir, *f);
        (void)unlink(p);
    }
    /* the log too: each boot's log starts empty, like its console */
    (void)unlink(log);
}

/* Wait until QEMU has created its agent socket, or has exited (bad arguments, locked disk). */
static int await_sockets(const struct bg_vmm_instance *vi, const char *log_path,
                         struct bg_error *err)
{
    int64_t deadline = bg_now_ms() + SPAWN_READY_MS;
    struct bg_error e;
    char state, tail[LOG_TAIL_MAX];
    uint64_t st;

    for (;;) {
        if (access(vi->agent_path, F_OK) == 0 && access(vi->control_path, F_OK) == 0)
            return 0;
        bool gone =
            bg_proc_stat(vi->pid, &state, &st, &e) < 0 || state == 'Z' || st != vi->start_time;
        if (gone || bg_now_ms() > deadline) {
            bg_file_tail_text(log_path, tail, sizeof(tail));
            return bg_error_set(err, gone ? -ECHILD : -ETIMEDOUT, "qemu %s: %s",
                                gone ? "exited at once" : "did not create its sockets",
                                tail[0] ? tail : "(no output)");
        }
        (void)usleep(5000);
    }
}

static int qemu_spawn(const struct bg_vmm_launch *l, const char *accel, struct bg_vmm_instance *vi,
                      struct bg_error *err)
{
    bg_autofree char *bin = NULL;
    bg_autofree char *log_path = bg_asprintf("%s/" BG_QEMU_LOG, l->run_dir);
    char **argv = NULL;
    char state;
    int r;

    if ((r = bg_run_find_program(BG_QEMU_BINARY, &bin, err)) < 0)
        return r;
    if ((r = bg_qemu_argv_build(bin, accel, l, &argv, err)) < 0)
        return r;
    unlink_run_files(l->run_dir);
    r = bg_run_detached((const char *const *)argv, log_path, &vi->pid, err);
    bg_strv_free(argv);
    if (r < 0)
        return r;
    if ((r = bg_proc_stat(vi->pid, &state, &vi->start_time, err)) < 0)
        return bg_error_prefix(err, r, "qemu exited at once");
    return await_sockets(vi, log_path, err);
}

static int64_t mono_raw_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The host's TSC rate in kHz, measured once against CLOCK_MONOTONIC_RAW over 20 ms. */
static uint64_t host_tsc_khz(void)
{
    static _Atomic uint64_t cached;
    uint64_t khz = cached;

    if (khz)
        return khz;
    int64_t t0 = mono_raw_ns();
    uint64_t c0 = __rdtsc();
    while (mono_raw_ns() - t0 < 20000000)
        ;
    uint64_t c1 = __rdtsc();
    int64_t t1 = mono_raw_ns();
    khz = (c1 - c0) * 1000000 / (uint64_t)(t1 - t0);
    cached = khz;
    return khz;
}

/* Under TCG the guest's TSC is the host's, but the kernel calibrates it against the emulated
 * PIT, which fails when the host is busy ("Fast TSC calibration failed"); without HPET or
 * ACPI PM timer on microvm the boot then hangs. Telling it the rate skips the calibration. */
static char *tcg_cmdline(const char *cmdline)
{
    return bg_asprintf("%s tsc_early_khz=%llu", cmdline, (unsigned long long)host_tsc_khz());
}

static int qemu_start(const struct bg_vmm_settings *s, const struct bg_vmm_launch *l,
                      struct bg_vmm_instance *ret, struct bg_error *err)
{
    struct bg_vmm_instance vi = {0};
    const char *accel;
    char why[128];
    int r = accel_resolve(s->accel, &accel, why, sizeof(why));

    if (r < 0)
        return bg_error_set(err, r, "start qemu for '%s': %s", l->id, why);
    bg_autofree char *cmdline = strcmp(accel, "tcg") ? NULL : tcg_cmdline(l->cmdline);
    struct bg_vmm_launch launch = *l;

    if (cmdline)
        launch.cmdline = cmdline;
    l = &launch;

    snprintf(vi.accel, sizeof(vi.accel), "%s", accel);
    vi.agent_path = bg_asprintf("%s/" BG_QEMU_AGENT_SOCK, l->run_dir);
    vi.control_path = bg_asprintf("%s/" BG_QEMU_QMP_SOCK, l->run_dir);
    vi.console_path = bg_asprintf("%s/" BG_VMM_CONSOLE, l->run_dir);
    r = qemu_spawn(l, accel, &vi, err);
    if (r < 0) {
        if (vi.pid > 0)
            (void)bg_vmm_stop(&bg_vmm_qemu, &vi, 0, NULL);
        bg_vmm_instance_done(&vi);
        return bg_error_prefix(err, r, "start qemu for '%s'", l->id);
    }
    *ret = vi;
    return 0;
}

static int qemu_agent_connect(const struct bg_vmm_instance *vi, int64_t deadline_ms, int *ret_fd,
                              struct bg_error *err)
{
    int r;

    for (;;) {
        if ((r = bg_unix_connect(vi->agent_path, ret_fd)) == 0)
            return 0;
        if (!bg_vmm_instance_alive(vi))
            return bg_error_set(err, -ECONNREFUSED, "qemu (pid %d) is no longer running",
                                (int)vi->pid);
        if (bg_now_ms() >= deadline_ms)
            return bg_error_set(err, r, "connect to agent socket %s: %s", vi->agent_path,
                                strerror(-r));
        (void)usleep(20000);
    }
}

/* QMP quit: QEMU exits at once, flushing its disks. False when it could not be asked. */
static bool qemu_quit(const struct bg_vmm_instance *vi)
{
    struct bg_error e;
    bg_autoclose int fd = -1;

    if (!vi->control_path)
        return false;
    if (bg_qmp_connect(vi->control_path, 1000, &fd, &e) < 0 ||
        bg_qmp_execute(fd, "quit", 1000, &e) < 0) {
        bg_log_debug("stop qemu pid %d: %s", (int)vi->pid, e.msg);
        return false;
    }
    return true;
}

/* QEMU writes its pidfile itself, right after it starts: a daemon that died before recording
 * the pid finds it there, and believes it only for a QEMU started with this very pidfile. */
static int qemu_find_unrecorded(const char *run_dir, struct bg_vmm_instance *vi)
{
    bg_autofree char *pidfile = bg_asprintf("%s/" BG_QEMU_PIDFILE, run_dir);
    int r = bg_vmm_pidfile_find(pidfile, "-pidfile", pidfile, &vi->pid, &vi->start_time);

    if (r < 0)
        return r;
    if (!vi->agent_path)
        vi->agent_path = bg_asprintf("%s/" BG_QEMU_AGENT_SOCK, run_dir);
    if (!vi->control_path)
        vi->control_path = bg_asprintf("%s/" BG_QEMU_QMP_SOCK, run_dir);
    if (!vi->console_path)
        vi->console_path = bg_asprintf("%s/" BG_VMM_CONSOLE, run_dir);
    return 0;
}

static json_t *qemu_describe(const struct bg_vmm_instance *vi)
{
    return json_pack("{s:I, s:s, s:s?, s:s?, s:s?}", "pid", (json_int_t)vi->pid, "accel",
                     vi->accel[0] ? vi->accel : "tcg", "agent_socket", vi->agent_path,
                     "control_socket", vi->control_path, "console", vi->console_path);
}

const struct bg_vmm_driver bg_vmm_qemu = {
    .name = "qemu",
    .image_vmm = BG_VMM_QEMU,
    .log_name = BG_QEMU_LOG,
    .run_files = run_files,
    .probe = qemu_probe,
    .start = qemu_start,
    .agent_connect = qemu_agent_connect,
    .find_unrecorded = qemu_find_unrecorded,
    .ask_exit = qemu_quit,
    .ask_exit_name = "QMP quit",
    .ask_exit_wait_ms = QUIT_WAIT_MS,
    .describe = qemu_describe,
};
