/* SPDX-License-Identifier: MIT */
/* A VM's paths, and removing a stopped VMM's runtime files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "core/config.h"
#include "vm/vm-internal.h"
#include "vmm/qemu/qemu.h"

void bg_vm_paths_init(const struct bg_config *cfg, const char *name, struct bg_vm_paths *ret)
{
    ret->run_dir = bg_asprintf("%s/vms/%s", cfg->runtime_dir, name);
    ret->state_dir = bg_asprintf("%s/vms/%s", cfg->state_dir, name);
    ret->overlay = bg_asprintf("%s/overlay.img", ret->state_dir);
    ret->workdisk = bg_asprintf("%s/work.img", ret->state_dir);
    ret->console = bg_asprintf("%s/" BG_QEMU_CONSOLE, ret->run_dir);
}

void bg_vm_paths_done(struct bg_vm_paths *p)
{
    free(p->run_dir);
    free(p->state_dir);
    free(p->overlay);
    free(p->workdisk);
    free(p->console);
    memset(p, 0, sizeof(*p));
}

void bg_vm_run_files_remove(const char *run_dir)
{
    static const char *const names[] = {BG_QEMU_AGENT_SOCK, BG_QEMU_QMP_SOCK, BG_QEMU_PIDFILE,
                                        "initrd.img"};

    for (size_t i = 0; i < BG_ARRAY_SIZE(names); i++) {
        bg_autofree char *p = bg_asprintf("%s/%s", run_dir, names[i]);
        (void)unlink(p);
    }
}
