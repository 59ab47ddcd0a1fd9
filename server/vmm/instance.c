/* SPDX-License-Identifier: MIT */
/* A started VMM process: its liveness, the one stop ladder, and finding it again from a
 * pidfile. Every wait and signal goes through a pidfd checked against the start time. */
#include "vmm/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "banger/log.h"
#include "banger/parse.h"
#include "banger/proc.h"
#include "host/fileio.h"

#define TERM_WAIT_MS 3000
#define KILL_WAIT_MS 5000

void bg_vmm_instance_done(struct bg_vmm_instance *vi)
{
    if (!vi)
        return;
    free(vi->agent_path);
    free(vi->control_path);
    free(vi->console_path);
    memset(vi, 0, sizeof(*vi));
}

bool bg_vmm_instance_alive(const struct bg_vmm_instance *vi)
{
    char state;
    uint64_t st;

    if (vi->pid <= 0 || bg_proc_stat(vi->pid, &state, &st, NULL) < 0)
        return false;
    return st == vi->start_time && state != 'Z' && state != 'X';
}

/* SIGTERM, then SIGKILL, each with its wait. */
static int stop_signals(const struct bg_vmm_driver *drv, const struct bg_vmm_instance *vi,
                        int pidfd, struct bg_error *err)
{
    if (bg_proc_pidfd_signal(pidfd, SIGTERM, NULL) == -ESRCH ||
        bg_proc_pidfd_wait(pidfd, TERM_WAIT_MS))
        return 0;
    bg_log_warn("stop %s pid %d: SIGTERM ignored; sending SIGKILL", drv->name, (int)vi->pid);
    if (bg_proc_pidfd_signal(pidfd, SIGKILL, NULL) == -ESRCH ||
        bg_proc_pidfd_wait(pidfd, KILL_WAIT_MS))
        return 0;
    return bg_error_set(err, -ETIMEDOUT, "%s pid %d survived SIGKILL", drv->name, (int)vi->pid);
}

int bg_vmm_stop(const struct bg_vmm_driver *drv, const struct bg_vmm_instance *vi, int timeout_ms,
                struct bg_error *err)
{
    bg_autoclose int pidfd = -1;

    if (bg_proc_pidfd_open(vi->pid, vi->start_time, &pidfd, NULL) < 0)
        return 0; /* already gone (or the pid is someone else's now) */
    if (timeout_ms > 0 && bg_proc_pidfd_wait(pidfd, timeout_ms))
        return 0;
    if (drv->ask_exit && (timeout_ms > 0 || !drv->ask_exit_needs_guest)) {
        if (drv->ask_exit(vi) && bg_proc_pidfd_wait(pidfd, drv->ask_exit_wait_ms))
            return 0;
        bg_log_warn("stop %s pid %d: %s failed or ignored; sending SIGTERM", drv->name,
                    (int)vi->pid, drv->ask_exit_name);
    }
    return stop_signals(drv, vi, pidfd, err);
}

int bg_vmm_pidfile_find(const char *pidfile, const char *flag, const char *value, pid_t *ret_pid,
                        uint64_t *ret_start_time)
{
    bg_autofree char *argv = NULL;
    char buf[32], state, state2;
    uint64_t pid, st, st2;
    size_t len = 0;

    bg_file_tail_text(pidfile, buf, sizeof(buf));
    buf[strcspn(buf, "\n")] = '\0';
    if (!buf[0] || bg_parse_u64(buf, 1, BG_PROC_PID_MAX, &pid, NULL) < 0 ||
        bg_proc_stat((pid_t)pid, &state, &st, NULL) < 0 || state == 'Z')
        return -ESRCH;
    if (bg_proc_cmdline_read((pid_t)pid, &argv, &len) < 0 ||
        !bg_proc_argv_has(argv, len, flag, value))
        return -ESRCH;
    /* the argv read belongs to the process whose start time is recorded only if it did not
     * change across the read */
    if (bg_proc_stat((pid_t)pid, &state2, &st2, NULL) < 0 || st2 != st || state2 == 'Z')
        return -ESRCH;
    *ret_pid = (pid_t)pid;
    *ret_start_time = st;
    return 0;
}
