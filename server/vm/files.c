/* SPDX-License-Identifier: MIT */
/* A VM's paths, and removing a stopped VMM's runtime files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "banger/alloc.h"
#include "vm/vm-internal.h"

void bg_vm_paths_init(const struct bg_vm_runtime *rt, const char *name, struct bg_vm_paths *ret)
{
    ret->run_dir = bg_asprintf("%s/vms/%s", rt->runtime_dir, name);
    ret->state_dir = bg_asprintf("%s/vms/%s", rt->state_dir, name);
    ret->overlay = bg_asprintf("%s/overlay.img", ret->state_dir);
    ret->workdisk = bg_asprintf("%s/work.img", ret->state_dir);
    ret->console = bg_asprintf("%s/" BG_VMM_CONSOLE, ret->run_dir);
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

void bg_vm_run_files_remove(const struct bg_vm_runtime *rt, const char *run_dir)
{
    /* every driver's, not only the last one's: the VMM that left them may have been another */
    for (size_t i = 0; i < rt->n_drivers; i++)
        for (const char *const *f = rt->drivers[i]->run_files; f && *f; f++) {
            bg_autofree char *p = bg_asprintf("%s/%s", run_dir, *f);
            (void)unlink(p);
        }
}
